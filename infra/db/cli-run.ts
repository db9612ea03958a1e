/**
 * The shared shell of the database commands: parse flags, run, release every pool, and exit with a
 * status a script can test (0 ok, 1 failure, 2 usage or configuration). Errors print their message only
 * — never a stack with connection strings or secrets in it.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closeRedis } from '../../shared/cache/redis.js';
import { ConfigurationError } from '../../shared/config/index.js';
import { closeOrms } from '../../shared/db/orm.js';
import { EcommerceException, ValidationException } from '../../shared/errors/index.js';
import { closePasswordHasher } from '../../shared/services/auth/passwords.js';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

export function flags<T extends Options>(
  options: T,
  usage: string,
): ReturnType<typeof parseArgs<{ options: T }>>['values'] {
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\nusage: ${usage}`);
  }
}

export function required(value: string | undefined, name: string, usage: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required\nusage: ${usage}`);
  return value;
}

function describe(error: unknown): string {
  if (error instanceof ValidationException) {
    return `${error.message} ${error.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`;
  }
  return error instanceof Error ? error.message : String(error);
}

export function runCli(main: () => Promise<void>): void {
  main()
    // A command may report a partial failure by setting process.exitCode (e.g. rows it had to skip).
    .then(() => (typeof process.exitCode === 'number' ? process.exitCode : 0))
    .catch((error: unknown) => {
      console.error(`error: ${describe(error)}`);
      return error instanceof UsageError || error instanceof ConfigurationError
        ? 2
        : error instanceof EcommerceException && error.status < 500
          ? 2
          : 1;
    })
    .then(async (code) => {
      await Promise.allSettled([closeOrms(), closePasswordHasher(), closeRedis()]);
      process.exit(code);
    })
    .catch(() => process.exit(1));
}

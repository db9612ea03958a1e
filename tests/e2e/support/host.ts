import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Boots the compiled local host (`node dist/infra/host/cli.js`) as a child process on a free port, against
 * the environment the test run provides (DATABASE_URL, AUDIT_DATABASE_URL, REDIS_URL, secrets… from
 * tests/setup/global.ts), and waits until it serves. Nothing embedded starts unless asked: the run's own
 * settings are the ones under test. Run `npm run build` first (`npm test` does).
 */

export interface E2eHost {
  /** e.g. http://127.0.0.1:43121/api — prefix routes with it. */
  baseUrl: string;
  /** The origin, e.g. http://127.0.0.1:43121 (durable webhooks live at /runtime/webhooks/durabletask). */
  url: string;
  port: number;
  /** The host's master key: send it as `x-functions-key` to /admin/… (as on Azure). */
  masterKey: string;
  /** Everything the host printed so far (handy in assertion messages). */
  output(): string;
  /** SIGTERM (graceful), SIGKILL after the timeout; resolves when the process is gone. */
  stop(): Promise<void>;
}

export interface E2eHostOptions {
  /** Extra or overriding variables for the host (undefined removes one). */
  env?: Record<string, string | undefined>;
  /** Apply the migrations (default false: the global setup already migrated the run's databases). */
  migrate?: boolean;
  /** Seed the sample tenant and users (default false). */
  seed?: boolean;
  /** Let the host start embedded services for settings the run does not provide (default false). */
  embedded?: boolean;
  /** How long to wait for the ready line (default 60 s). */
  readyTimeoutMs?: number;
  /** Mirror the host's output to this process (default: only when HOST_E2E_LOG=1). */
  echo?: boolean;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test process that ends (or crashes) without calling stop() must not leave a host running.
  const killAll = (): void => {
    for (const child of children) child.kill('SIGKILL');
  };
  process.on('exit', killAll);
  // Killed by a signal, the test process skips 'exit': stop the hosts, then let the signal do its job
  // (re-raised only when nobody else handles it, so the runner's own handling is untouched).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
}

function repoRoot(): string {
  let dir = process.cwd();
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the working directory');
    dir = parent;
  }
  return dir;
}

/** The `--ready-json` line of infra/host/cli.ts (it also names the durable system key). */
type Ready = Pick<E2eHost, 'url' | 'baseUrl' | 'port' | 'masterKey'>;

export async function startE2eHost(options: E2eHostOptions = {}): Promise<E2eHost> {
  const root = repoRoot();
  const cli = path.join(root, 'dist', 'infra', 'host', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" before the e2e tests`);

  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  delete env.PORT;
  const args = [cli, '--port', '0', '--ready-json', '--no-local-settings'];
  if (!options.embedded) args.push('--no-embedded');
  args.push(options.migrate ? '--migrate' : '--no-migrate');
  args.push(options.seed ? '--seed' : '--no-seed');

  killAllOnExit();
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );

  let output = '';
  const echo = options.echo ?? process.env.HOST_E2E_LOG === '1';
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    output += text;
    if (echo) process.stderr.write(text);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  const ready = await new Promise<Ready>((resolve, reject) => {
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      reject(new Error(`The host did not become ready within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (): void => {
      for (const line of output.split('\n')) {
        if (!line.startsWith('{"event":"host-ready"')) continue;
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(JSON.parse(line) as Ready);
        return;
      }
    };
    child.stdout.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`The host exited (code ${child.exitCode}) before it was ready:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });

  return { ...ready, output: () => output, stop };
}

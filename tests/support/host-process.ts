import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The compiled local host (`node dist/infra/host/cli.js`) as a child process that a test can stop
 * gracefully OR kill outright (SIGKILL: no drain, no shutdown hooks — a crashed instance), then start
 * again on the same databases. Like tests/e2e/support/host.ts, but usable from the benchmarks too (no
 * vitest imports) and with an explicit environment. Run `npm run build` first.
 */
export interface HostProcess {
  baseUrl: string;
  url: string;
  port: number;
  /** The host's master key: send it as `x-functions-key` to /admin/… (as on Azure). */
  masterKey: string;
  /** The durable extension's system key (opens /runtime/webhooks/durabletask/…). */
  durableTaskKey: string;
  pid: number;
  output(): string;
  /** SIGTERM (graceful drain), SIGKILL after `timeoutMs`; resolves when the process is gone. */
  stop(timeoutMs?: number): Promise<void>;
  /** Sends `signal` (default SIGKILL) and resolves when the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** False once the process has exited (crashed, killed or stopped). */
  alive(): boolean;
  /** Resolves when the process exits (for whatever reason). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface HostProcessOptions {
  /** Variables for the host on top of this process's environment (undefined removes one). */
  env: Record<string, string | undefined>;
  /** Start from this process's environment (default true; the bench passes false). */
  inheritEnv?: boolean;
  migrate?: boolean;
  seed?: boolean;
  readyTimeoutMs?: number;
  /**
   * Compiled modules (paths relative to the repository, e.g. `dist/tests/…/x.js`) whose registrations
   * replace the app's functions of the same name: a deploy of changed code (infra/host `--replace-with`).
   */
  replaceWith?: string[];
  /** Mirror the host's output to stderr (default: HOST_E2E_LOG=1). */
  echo?: boolean;
}

/** The `--ready-json` line of infra/host/cli.ts. */
interface ReadyLine {
  url: string;
  baseUrl: string;
  port: number;
  masterKey: string;
  durableTaskKey: string;
}

const live = new Set<ReturnType<typeof spawn>>();
let exitHook = false;

function repoRoot(): string {
  let dir = process.cwd();
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the working directory');
    dir = parent;
  }
  return dir;
}

export async function spawnHost(options: HostProcessOptions): Promise<HostProcess> {
  const root = repoRoot();
  const cli = path.join(root, 'dist', 'infra', 'host', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" first`);
  const env: NodeJS.ProcessEnv = options.inheritEnv === false ? {} : { ...process.env };
  if (options.inheritEnv === false && process.env.PATH) env.PATH = process.env.PATH;
  for (const [key, value] of Object.entries(options.env)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  delete env.PORT;
  const args = [
    cli,
    '--port',
    '0',
    '--ready-json',
    '--no-local-settings',
    '--no-embedded',
    options.migrate ? '--migrate' : '--no-migrate',
    options.seed ? '--seed' : '--no-seed',
    ...(options.replaceWith ?? []).flatMap((file) => ['--replace-with', file]),
  ];

  if (!exitHook) {
    exitHook = true;
    // A test process that dies must not leave hosts behind.
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );

  // Keep the tail only (a load run logs two lines per request; assertion messages quote the end),
  // as chunks, so collecting costs nothing per byte.
  const chunks: string[] = [];
  let kept = 0;
  const echo = options.echo ?? process.env.HOST_E2E_LOG === '1';
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    chunks.push(text);
    kept += text.length;
    while (kept > 400_000 && chunks.length > 1) kept -= chunks.shift()!.length;
    if (echo) process.stderr.write(text);
  };
  const output = (): string => chunks.join('').slice(-200_000);
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (!gone()) child.kill(signal);
    await exited;
  };
  const stop = async (timeoutMs = 15_000): Promise<void> => {
    if (gone()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };

  let seen = '';
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const timer = setTimeout(
      () => reject(new Error(`host not ready within ${timeoutMs} ms:\n${output()}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      const line = seen.split('\n').find((l) => l.startsWith('{"event":"host-ready"'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve(JSON.parse(line) as ReadyLine);
    };
    child.stdout.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`host exited before it was ready:\n${output()}`));
    });
  }).catch(async (error: unknown) => {
    await kill();
    throw error;
  });

  return { ...ready, pid: child.pid!, output, stop, kill, exited, alive: () => !gone() };
}

import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/**
 * Child processes the host starts (PostgreSQL, Azurite). They run in their own process group, so the
 * terminal's Ctrl-C reaches only the host, which then stops them after in-flight work is done. Should
 * the host die without a clean stop, an `exit` hook still signals them so nothing is left behind.
 */

const live = new Set<ManagedChild>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.signalNow();
  });
}

export interface ManagedChildOptions {
  name: string;
  command: string;
  args: string[];
  spawnOptions?: SpawnOptions;
  /** Signal for a graceful stop (PostgreSQL: SIGINT = fast shutdown). */
  stopSignal?: NodeJS.Signals;
  stopTimeoutMs?: number;
}

export class ManagedChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  #options: ManagedChildOptions;
  #output = '';

  constructor(options: ManagedChildOptions) {
    installExitHook();
    this.name = options.name;
    this.#options = options;
    this.process = spawn(options.command, options.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
      ...options.spawnOptions,
    });
    const keep = (chunk: Buffer): void => {
      // Enough of the tail to explain a failed start.
      this.#output = (this.#output + chunk.toString('utf8')).slice(-8000);
    };
    this.process.stdout?.on('data', keep);
    this.process.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code) => {
        live.delete(this);
        resolve(code);
      });
      this.process.once('error', () => {
        live.delete(this);
        resolve(null);
      });
    });
    live.add(this);
  }

  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null && live.has(this);
  }

  /** Resolves when a line of output matches, rejects if the process exits first or time runs out. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (fn: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.process.stdout?.off('data', check);
        this.process.stderr?.off('data', check);
        fn();
      };
      const check = (): void => {
        const m = pattern.exec(this.#output);
        if (m) finish(() => resolve(m));
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`${this.name} did not start within ${timeoutMs} ms:\n${this.#output}`)),
          ),
        timeoutMs,
      );
      this.process.stdout?.on('data', check);
      this.process.stderr?.on('data', check);
      void this.exited.then((code) =>
        finish(() => reject(new Error(`${this.name} exited (code ${code}) during start:\n${this.#output}`))),
      );
      check();
    });
  }

  /** Graceful stop, then SIGKILL if it takes too long. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.#signal(this.#options.stopSignal ?? 'SIGTERM');
    const timeout = this.#options.stopTimeoutMs ?? 10_000;
    const result = await Promise.race([
      this.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeout).unref()),
    ]);
    if (result === 'timeout') {
      this.#signal('SIGKILL');
      await this.exited;
    }
  }

  /** Synchronous best effort for the process `exit` hook. */
  signalNow(): void {
    if (this.running) this.#signal(this.#options.stopSignal ?? 'SIGTERM');
  }

  #signal(signal: NodeJS.Signals): void {
    try {
      this.process.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** The command line of a live process ('' when it is gone or unknown): /proc on Linux, `ps` elsewhere. */
export function processCommandLine(pid: number): string {
  try {
    process.kill(pid, 0);
  } catch {
    return '';
  }
  const proc = `/proc/${pid}/cmdline`;
  if (existsSync(proc)) return readFileSync(proc, 'utf8').replace(/\0/g, ' ');
  try {
    return execFileSync('ps', ['-p', String(pid), '-o', 'command='], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FloodCommand, FloodReport } from './flood-process.js';

export type { FloodReport } from './flood-process.js';

/**
 * A paced GET flood (tests/support/flood-process.ts) in a child process at lower CPU priority, started
 * and stopped by phase. Compiled code: `npm run build` first (like spawnHost).
 */
export interface FloodProcess {
  /** Starts sending (resolves once the child's pacing runs). */
  start(): Promise<void>;
  /** Stops sending, waits for the outstanding answers, and reports the phase. */
  stop(): Promise<FloodReport>;
  close(): Promise<void>;
}

function next<T>(child: ChildProcess, accept: (message: unknown) => message is T): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      if (!accept(message)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`the flood process exited (${code})`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const is =
  (word: string) =>
  (message: unknown): message is string =>
    message === word;
const isReport = (message: unknown): message is FloodReport =>
  typeof message === 'object' && message !== null && 'achievedPerSecond' in message;

export async function forkFlood(url: string, perSecond: number, maxInFlight: number): Promise<FloodProcess> {
  const script = path.resolve('dist', 'tests', 'support', 'flood-process.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first`);
  const child = fork(script, [url, String(perSecond), String(maxInFlight)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  });
  await next(child, is('ready'));
  const send = (command: FloodCommand): void => {
    child.send(command);
  };
  return {
    start: async () => {
      const started = next(child, is('started'));
      send('start');
      await started;
    },
    stop: async () => {
      const report = next(child, isReport);
      send('stop');
      return report;
    },
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      await gone;
    },
  };
}

import { format } from 'node:util';
import type { HostLogger, LogLevel } from './types.js';

const stamp = (): string => new Date().toISOString().slice(11, 23);

type HostLevel = keyof HostLogger;

/** Levels a logger of this module drops, so callers can skip building lines nobody will see. */
const dropped = new WeakMap<HostLogger, ReadonlySet<HostLevel>>();

/**
 * False when `logger` is known to drop `level` (the silent logger, the console logger's debug when
 * off): the caller need not format the line. True for any other logger, which decides for itself.
 */
export function logs(logger: HostLogger, level: HostLevel): boolean {
  return dropped.get(logger)?.has(level) !== true;
}

/** Console output in the spirit of `func start`: a timestamp, then the line. */
export function consoleLogger(options: { debug?: boolean } = {}): HostLogger {
  const logger: HostLogger = {
    debug: (message) => {
      if (options.debug) console.log(`[${stamp()}] ${message}`);
    },
    info: (message) => console.log(`[${stamp()}] ${message}`),
    warn: (message) => console.warn(`[${stamp()}] WARNING: ${message}`),
    error: (message) => console.error(`[${stamp()}] ERROR: ${message}`),
  };
  if (!options.debug) dropped.set(logger, new Set(['debug']));
  return logger;
}

export const silentLogger: HostLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
dropped.set(silentLogger, new Set(['debug', 'info', 'warn', 'error']));

const HOST_LEVEL = new Map<LogLevel, HostLevel | undefined>([
  ['trace', 'debug'],
  ['debug', 'debug'],
  ['information', 'info'],
  ['warning', 'warn'],
  ['error', 'error'],
  ['critical', 'error'],
  ['none', undefined],
]);

/** Adapts `context.log`/`context.error`… of one function to the host logger. */
export function functionLogHandler(
  logger: HostLogger,
  functionName: string,
): (level: LogLevel, ...args: unknown[]) => void {
  return (level, ...args) => {
    // Anything else than the six levels is logged as information, as before.
    const target = HOST_LEVEL.has(level) ? HOST_LEVEL.get(level) : 'info';
    if (target === undefined || !logs(logger, target)) return;
    logger[target](`[${functionName}] ${format(...args)}`);
  };
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return typeof error === 'string' ? error : format('%o', error);
}

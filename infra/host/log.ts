import { format } from 'node:util';
import type { HostLogger, LogLevel } from './types.js';

const stamp = (): string => new Date().toISOString().slice(11, 23);

/** Console output in the spirit of `func start`: a timestamp, then the line. */
export function consoleLogger(options: { debug?: boolean } = {}): HostLogger {
  return {
    debug: (message) => {
      if (options.debug) console.log(`[${stamp()}] ${message}`);
    },
    info: (message) => console.log(`[${stamp()}] ${message}`),
    warn: (message) => console.warn(`[${stamp()}] WARNING: ${message}`),
    error: (message) => console.error(`[${stamp()}] ERROR: ${message}`),
  };
}

export const silentLogger: HostLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Adapts `context.log`/`context.error`… of one function to the host logger. */
export function functionLogHandler(
  logger: HostLogger,
  functionName: string,
): (level: LogLevel, ...args: unknown[]) => void {
  return (level, ...args) => {
    const line = `[${functionName}] ${format(...args)}`;
    switch (level) {
      case 'error':
      case 'critical':
        logger.error(line);
        break;
      case 'warning':
        logger.warn(line);
        break;
      case 'trace':
      case 'debug':
        logger.debug(line);
        break;
      case 'none':
        break;
      default:
        logger.info(line);
    }
  };
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return typeof error === 'string' ? error : format('%o', error);
}

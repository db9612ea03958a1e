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

/** Past this many queued characters a line is written at once (the queue is full: the caller waits). */
const QUEUE_LIMIT = 64 * 1024;

/**
 * Console lines are queued and written once per turn of the event loop, not one write per line. The
 * Functions host's console logger does not write on the request's thread either: it queues messages
 * for a background writer and makes the caller wait only when the queue is full
 * (Microsoft.Extensions.Logging.Console, ConsoleLoggerOptions.MaxQueueLength and QueueFullMode.Wait).
 * Here a write to a pipe or file is synchronous, and at two lines per invocation the writes were about
 * a quarter of the host's own CPU time per cached request in a profile under a 2,000 req/s /health
 * flood: overhead Azure's host does not have. Lines keep their order across stdout and stderr (a
 * change of stream writes what is queued first), and whatever is queued is written when the process
 * exits (`process.exit` included; only SIGKILL loses the last turn's lines).
 */
class LineQueue {
  #stream: NodeJS.WriteStream | undefined;
  #text = '';
  #scheduled = false;

  constructor() {
    process.on('exit', () => this.flush());
  }

  push(stream: NodeJS.WriteStream, line: string): void {
    if (this.#stream !== stream) this.flush();
    this.#stream = stream;
    this.#text += `${line}\n`;
    if (this.#text.length > QUEUE_LIMIT) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#onTurn).unref();
    }
  }

  #onTurn = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  flush(): void {
    const [stream, text] = [this.#stream, this.#text];
    this.#text = '';
    if (stream && text) stream.write(text);
  }
}

let queue: LineQueue | undefined;

function enqueue(stream: NodeJS.WriteStream, line: string): void {
  queue ??= new LineQueue();
  queue.push(stream, line);
}

/** Writes the console logger's queued lines now (before printing to the console directly). */
export function flushConsoleLog(): void {
  queue?.flush();
}

/** Console output in the spirit of `func start`: a timestamp, then the line. */
export function consoleLogger(options: { debug?: boolean } = {}): HostLogger {
  const logger: HostLogger = {
    debug: (message) => {
      if (options.debug) enqueue(process.stdout, `[${stamp()}] ${message}`);
    },
    info: (message) => enqueue(process.stdout, `[${stamp()}] ${message}`),
    warn: (message) => enqueue(process.stderr, `[${stamp()}] WARNING: ${message}`),
    error: (message) => enqueue(process.stderr, `[${stamp()}] ERROR: ${message}`),
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

import type { Timer } from '@azure/functions';
import {
  collectOutputs,
  createInvocationContext,
  invokeWithHooks,
  type InputProvider,
} from './invocation.js';
import { safeErrorReport } from './durable/errors.js';
import { parseSchedule, type Schedule } from './ncrontab.js';
import type { OutputDispatcher } from './outputs.js';
import type { HostLogger, RegisteredFunction, RetryPolicy, RpcDuration } from './types.js';

export interface TimerRun {
  functionName: string;
  startedAt: Date;
  isPastDue: boolean;
  succeeded: boolean;
  error?: string;
}

interface Entry {
  fn: RegisteredFunction;
  schedule: Schedule;
  next: Date;
  last: Date | undefined;
  timeout: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
}

export interface TimerSchedulerOptions {
  logger: HostLogger;
  inputs: InputProvider;
  dispatchOutputs: OutputDispatcher;
}

const MAX_TIMEOUT = 2 ** 31 - 1;

function durationMs(d: RpcDuration | undefined): number {
  if (!d) return 0;
  return Number(d.seconds ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6);
}

/**
 * Timer triggers: each function fires at its schedule's occurrences (`runOnStartup` also once at start).
 * A tick that comes while the previous run is still going is skipped, as the Functions singleton lock
 * does; a run that starts more than a second late is reported with `isPastDue`.
 */
export class TimerScheduler {
  readonly runs: TimerRun[] = [];
  #entries = new Map<string, Entry>();
  #stopped = false;

  constructor(private readonly options: TimerSchedulerOptions) {}

  /** Validates every schedule up front so a bad expression fails the start, not the first tick. */
  add(fn: RegisteredFunction): void {
    const expression = fn.trigger.schedule;
    if (typeof expression !== 'string') throw new Error(`Timer function ${fn.name} has no schedule`);
    let schedule: Schedule;
    try {
      schedule = parseSchedule(expression);
    } catch (error) {
      throw new Error(`Timer function ${fn.name}: ${(error as Error).message}`, { cause: error });
    }
    const now = new Date();
    this.#entries.set(fn.name, {
      fn,
      schedule,
      next: schedule.next(now),
      last: undefined,
      timeout: undefined,
      running: undefined,
    });
  }

  describe(name: string): { schedule: string; next: Date } | undefined {
    const entry = this.#entries.get(name);
    return entry && { schedule: entry.schedule.expression, next: entry.next };
  }

  start(): void {
    for (const entry of this.#entries.values()) {
      if (entry.fn.trigger.runOnStartup === true) void this.#fire(entry, false);
      this.#arm(entry);
    }
  }

  /** Runs a timer function now (what `POST /admin/functions/{name}` does), awaiting its completion. */
  async run(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (!entry) throw new Error(`No timer function named ${name}`);
    await this.#fire(entry, false);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const entry of this.#entries.values()) if (entry.timeout) clearTimeout(entry.timeout);
    await Promise.allSettled([...this.#entries.values()].flatMap((e) => (e.running ? [e.running] : [])));
  }

  #arm(entry: Entry): void {
    if (this.#stopped) return;
    const delay = entry.next.getTime() - Date.now();
    entry.timeout = setTimeout(
      () => {
        if (Date.now() < entry.next.getTime()) return this.#arm(entry); // a long wait done in steps
        const due = entry.next;
        const isPastDue = Date.now() - due.getTime() > 1000;
        entry.next = entry.schedule.next(new Date(Math.max(Date.now(), due.getTime())));
        if (entry.running)
          this.options.logger.warn(`Timer ${entry.fn.name}: previous run still in progress, tick skipped`);
        else void this.#fire(entry, isPastDue);
        this.#arm(entry);
      },
      Math.min(Math.max(delay, 0), MAX_TIMEOUT),
    );
    entry.timeout.unref();
  }

  async #fire(entry: Entry, isPastDue: boolean): Promise<void> {
    if (entry.running) return entry.running;
    const run = this.#execute(entry, isPastDue).finally(() => {
      entry.running = undefined;
    });
    entry.running = run;
    return run;
  }

  async #execute(entry: Entry, isPastDue: boolean): Promise<void> {
    const { fn } = entry;
    const startedAt = new Date();
    const timer: Timer = {
      isPastDue,
      schedule: { adjustForDST: true },
      scheduleStatus: {
        last: (entry.last ?? new Date(0)).toISOString(),
        next: entry.next.toISOString(),
        lastUpdated: startedAt.toISOString(),
      },
    };
    entry.last = startedAt;
    const policy = fn.metadata.retryOptions;
    const maxRetries = policy?.maxRetryCount ?? 0;
    for (let retry = 0; ; retry++) {
      const context = createInvocationContext(fn, this.options.logger, this.options.inputs, {
        ...(policy ? { retryContext: { retryCount: retry, maxRetryCount: maxRetries } } : {}),
      });
      this.options.logger.info(
        `Executing 'Functions.${fn.name}' (Reason='Timer fired at ${startedAt.toISOString()}', Id=${context.invocationId})`,
      );
      const t0 = Date.now();
      try {
        const result = await invokeWithHooks(fn, [timer], context);
        await this.options.dispatchOutputs(fn.name, collectOutputs(fn, context, result));
        this.options.logger.info(
          `Executed 'Functions.${fn.name}' (Succeeded, Id=${context.invocationId}, Duration=${Date.now() - t0}ms)`,
        );
        this.runs.push({ functionName: fn.name, startedAt, isPastDue, succeeded: true });
        return;
      } catch (error) {
        this.options.logger.error(
          `Executed 'Functions.${fn.name}' (Failed, Id=${context.invocationId}, Duration=${Date.now() - t0}ms): ${safeErrorReport(error)}`,
        );
        if (retry >= maxRetries || this.#stopped) {
          this.runs.push({
            functionName: fn.name,
            startedAt,
            isPastDue,
            succeeded: false,
            error: String(error),
          });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, retryDelay(policy!, retry)));
      }
    }
  }
}

/** The function-level retry policy (`app.timer(..., { retry })`), as the host applies it to timers. */
function retryDelay(policy: RetryPolicy, retry: number): number {
  if (policy.retryStrategy === 'exponentialBackoff') {
    const max = durationMs(policy.maximumInterval) || Number.POSITIVE_INFINITY;
    return Math.min(max, durationMs(policy.minimumInterval) * 2 ** retry);
  }
  return durationMs(policy.delayInterval);
}

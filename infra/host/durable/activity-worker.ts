import { createInvocationContext, invokeWithHooks, type InputProvider } from '../invocation.js';
import { errorText } from '../log.js';
import type { HostLogger, RegisteredFunction } from '../types.js';
import { events, type FailureDetailsWire, type HistoryEvent } from './history.js';
import type { ActivityRow, DurableStore } from './store.js';

export interface ActivityWorkerOptions {
  store: DurableStore;
  logger: HostLogger;
  activities: Map<string, RegisteredFunction>;
  inputs: InputProvider;
  maxConcurrent: number;
  leaseMs: number;
  /** Lease owner id of this host process. */
  owner: string;
  /** Called when an activity's result is in the instance's inbox. */
  onResult: (instanceId: string) => void;
}

/** An activity failure as the Durable extension reports it to the orchestrator. */
function taskFailedEvent(taskId: number, activity: string, error: unknown, now: Date): HistoryEvent {
  const err = error instanceof Error ? error : new Error(String(error));
  let failureDetails: FailureDetailsWire | undefined;
  // With an exception-properties provider registered, the library puts failure details JSON in the message.
  try {
    const parsed = JSON.parse(err.message) as Record<string, unknown>;
    if (typeof parsed.errorType === 'string' && typeof parsed.errorMessage === 'string')
      failureDetails = {
        ErrorType: parsed.errorType,
        ErrorMessage: parsed.errorMessage,
        ...(typeof parsed.stackTrace === 'string' ? { StackTrace: parsed.stackTrace } : {}),
        IsNonRetriable: parsed.isNonRetriable === true,
        ...(parsed.properties && typeof parsed.properties === 'object'
          ? { Properties: parsed.properties as Record<string, unknown> }
          : {}),
      };
  } catch {
    // a plain message
  }
  const message = failureDetails?.ErrorMessage ?? err.message;
  return events.taskFailed(
    taskId,
    `Activity function '${activity}' failed: ${message}`,
    err.stack ?? `${err.name}: ${message}`,
    failureDetails,
    now,
  );
}

/**
 * Runs activity executions in-process: claims them from the store under a lease (renewed while they
 * run, so a crashed host's work is taken over when the lease lapses), invokes the activity function, and
 * puts the result in the instance's inbox. At-least-once, as in Azure: activities must be idempotent.
 */
export class ActivityWorker {
  #o: ActivityWorkerOptions;
  #inFlight = new Map<string, Promise<void>>();
  #pumping = false;
  #pumpAgain = false;
  #renewer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(options: ActivityWorkerOptions) {
    this.#o = options;
  }

  start(): void {
    this.#renewer = setInterval(() => void this.#renewLeases(), Math.max(1000, this.#o.leaseMs / 3));
    this.#renewer.unref();
  }

  /** Stops claiming, waits for running activities (up to the timeout) and hands the rest back. */
  async stop(drainTimeoutMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#renewer) clearInterval(this.#renewer);
    const running = Promise.allSettled([...this.#inFlight.values()]);
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), drainTimeoutMs).unref(),
    );
    if ((await Promise.race([running, timeout])) === 'timeout')
      this.#o.logger.warn(
        `Durable: ${this.#inFlight.size} activity execution(s) still running at shutdown; they will run again on the next start`,
      );
    // Whatever did not finish is released at once instead of waiting for the lease to expire.
    await this.#o.store.releaseLeases(this.#o.owner).catch(() => undefined);
  }

  /** Claims as many executions as there are free slots and starts them. */
  async pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        if (this.#stopping) return;
        const free = this.#o.maxConcurrent - this.#inFlight.size;
        const claimed = await this.#o.store.claimActivities(this.#o.owner, free, this.#o.leaseMs, new Date());
        for (const activity of claimed) {
          const run = this.#run(activity).finally(() => {
            this.#inFlight.delete(activity.id);
            void this.pump();
          });
          this.#inFlight.set(activity.id, run);
        }
        if (claimed.length === free && free > 0) this.#pumpAgain = true;
      } while (this.#pumpAgain);
    } catch (error) {
      this.#o.logger.error(`Durable: could not claim activities: ${errorText(error)}`);
    } finally {
      this.#pumping = false;
    }
  }

  async #run(activity: ActivityRow): Promise<void> {
    const fn = this.#o.activities.get(activity.name);
    let event: HistoryEvent;
    if (!fn) {
      event = taskFailedEvent(
        activity.taskId,
        activity.name,
        new Error(`The activity function '${activity.name}' doesn't exist or is not an activity function.`),
        new Date(),
      );
    } else {
      const context = createInvocationContext(fn, this.#o.logger, this.#o.inputs, {
        triggerMetadata: { instanceId: activity.instanceId, name: activity.name },
      });
      const t0 = Date.now();
      try {
        const result = await invokeWithHooks(fn, [activity.input], context);
        event = events.taskCompleted(activity.taskId, JSON.stringify(result ?? null), new Date());
        this.#o.logger.debug(
          `Durable: activity ${activity.name} for ${activity.instanceId} done in ${Date.now() - t0}ms`,
        );
      } catch (error) {
        this.#o.logger.warn(
          `Durable: activity ${activity.name} for ${activity.instanceId} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        event = taskFailedEvent(activity.taskId, activity.name, error, new Date());
      }
    }
    try {
      if (await this.#o.store.completeActivity(activity, event, new Date()))
        this.#o.onResult(activity.instanceId);
    } catch (error) {
      // The lease expires and the activity runs again: at-least-once, as in Azure.
      this.#o.logger.error(
        `Durable: could not record activity result for ${activity.instanceId}: ${errorText(error)}`,
      );
    }
  }

  async #renewLeases(): Promise<void> {
    if (this.#inFlight.size === 0) return;
    try {
      await this.#o.store.renewLeases(
        this.#o.owner,
        [...this.#inFlight.keys()],
        new Date(Date.now() + this.#o.leaseMs),
      );
    } catch (error) {
      this.#o.logger.warn(`Durable: lease renewal failed: ${errorText(error)}`);
    }
  }
}

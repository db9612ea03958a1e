import { createInvocationContext, invokeWithHooks, type InputProvider } from '../invocation.js';
import type { HostLogger, RegisteredFunction } from '../types.js';
import { safeErrorText } from './errors.js';
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
  /**
   * Takes an activity's result and resolves once it is recorded (replayed by an episode, or put in the
   * instance's inbox). Until then the execution's lease is renewed: the result exists only in memory.
   */
  onResult: (activity: ActivityRow, result: HistoryEvent) => Promise<void>;
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
 * Runs activity executions in-process under a lease (renewed while they run and until their result is
 * recorded, so a crashed host's work is taken over when the lease lapses) and hands each result to the
 * engine. At-least-once, as in Azure: activities must be idempotent.
 *
 * Executions come two ways: an episode that schedules activities inserts them already leased to this
 * worker when it has free slots (`reserve` → `runLeased`, no claim statement and no wait), and `pump`
 * claims whatever else is due — executions scheduled while every slot was busy, another host's lapsed
 * leases, work left by a previous run.
 */
export class ActivityWorker {
  #o: ActivityWorkerOptions;
  /** Executions whose function is running (each holds a slot). */
  #running = new Map<string, Promise<void>>();
  /** Executions whose result is waiting to be recorded (no slot, lease still renewed). */
  #recording = new Set<string>();
  #reserved = 0;
  #pumping = false;
  #pumpAgain = false;
  /** Whether unleased executions may be waiting; bumped generation = set again during a claim. */
  #backlog = true;
  #backlogGeneration = 0;
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
    const running = (async () => {
      while (this.#running.size > 0 || this.#recording.size > 0)
        await Promise.race([
          Promise.allSettled([...this.#running.values()]),
          new Promise((resolve) => setTimeout(resolve, 20)),
        ]);
    })();
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), drainTimeoutMs).unref(),
    );
    if ((await Promise.race([running, timeout])) === 'timeout')
      this.#o.logger.warn(
        `Durable: ${this.#running.size + this.#recording.size} activity execution(s) still running at shutdown; they will run again on the next start`,
      );
    if (this.#renewer) clearInterval(this.#renewer);
    // Whatever did not finish is released at once instead of waiting for the lease to expire.
    await this.#o.store.releaseLeases(this.#o.owner).catch(() => undefined);
  }

  /** Takes up to `wanted` free slots for executions an episode is about to insert leased to this worker. */
  reserve(wanted: number): number {
    if (this.#stopping) return 0;
    const granted = Math.max(0, Math.min(wanted, this.#free()));
    this.#reserved += granted;
    return granted;
  }

  /** Gives back reserved slots that were not used (the episode's write did not happen). */
  unreserve(count: number): void {
    this.#reserved = Math.max(0, this.#reserved - count);
  }

  /** Starts executions inserted leased to this worker, in slots taken with `reserve`. */
  runLeased(activities: ActivityRow[]): void {
    for (const activity of activities) {
      this.#reserved = Math.max(0, this.#reserved - 1);
      this.#start(activity);
    }
  }

  /** Unleased executions were inserted: the next free slot should claim them. */
  noteBacklog(): void {
    this.#backlog = true;
    this.#backlogGeneration++;
  }

  #free(): number {
    return this.#o.maxConcurrent - this.#running.size - this.#reserved;
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
        const free = this.#free();
        if (free <= 0) return;
        const generation = this.#backlogGeneration;
        const claimed = await this.#o.store.claimActivities(
          this.#o.owner,
          free,
          this.#o.leaseMs,
          new Date(),
          [...this.#running.keys(), ...this.#recording],
        );
        for (const activity of claimed) this.#start(activity);
        if (claimed.length === free) this.#pumpAgain = true;
        else if (generation === this.#backlogGeneration) this.#backlog = false;
      } while (this.#pumpAgain);
    } catch (error) {
      this.#o.logger.error(`Durable: could not claim activities: ${safeErrorText(error)}`);
    } finally {
      this.#pumping = false;
    }
  }

  #start(activity: ActivityRow): void {
    if (this.#running.has(activity.id) || this.#recording.has(activity.id)) return;
    const run = this.#run(activity);
    this.#running.set(activity.id, run);
  }

  async #run(activity: ActivityRow): Promise<void> {
    let event: HistoryEvent;
    try {
      event = await this.#execute(activity);
    } finally {
      // The slot is free as soon as the function returned; recording the result needs none.
      this.#running.delete(activity.id);
      if (this.#backlog) void this.pump();
    }
    this.#recording.add(activity.id);
    try {
      await this.#o.onResult(activity, event);
    } catch (error) {
      this.#o.logger.error(
        `Durable: could not record the result of activity ${activity.name} for ${activity.instanceId}; it will run again: ${safeErrorText(error)}`,
      );
    } finally {
      this.#recording.delete(activity.id);
    }
  }

  async #execute(activity: ActivityRow): Promise<HistoryEvent> {
    const fn = this.#o.activities.get(activity.name);
    if (!fn)
      return taskFailedEvent(
        activity.taskId,
        activity.name,
        new Error(`The activity function '${activity.name}' doesn't exist or is not an activity function.`),
        new Date(),
      );
    const context = createInvocationContext(fn, this.#o.logger, this.#o.inputs, {
      triggerMetadata: { instanceId: activity.instanceId, name: activity.name },
    });
    const t0 = Date.now();
    try {
      const result = await invokeWithHooks(fn, [activity.input], context);
      this.#o.logger.debug(
        `Durable: activity ${activity.name} for ${activity.instanceId} done in ${Date.now() - t0}ms`,
      );
      return events.taskCompleted(activity.taskId, JSON.stringify(result ?? null), new Date());
    } catch (error) {
      // The failure goes to the orchestrator in full (its history); the log gets a safe summary only.
      this.#o.logger.warn(
        `Durable: activity ${activity.name} for ${activity.instanceId} failed: ${safeErrorText(error)}`,
      );
      return taskFailedEvent(activity.taskId, activity.name, error, new Date());
    }
  }

  async #renewLeases(): Promise<void> {
    const ids = [...this.#running.keys(), ...this.#recording];
    if (ids.length === 0) return;
    try {
      await this.#o.store.renewLeases(this.#o.owner, ids, new Date(Date.now() + this.#o.leaseMs));
    } catch (error) {
      this.#o.logger.warn(`Durable: lease renewal failed: ${safeErrorText(error)}`);
    }
  }
}

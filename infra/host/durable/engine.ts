import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { InputProvider } from '../invocation.js';
import { errorText } from '../log.js';
import type { HostLogger, RegisteredFunction } from '../types.js';
import {
  checkDeterminism,
  emptyBookkeeping,
  planEpisode,
  selectBatch,
  type Bookkeeping,
  type Work,
} from './episode.js';
import { EventType, events, jsonText, type HistoryEvent } from './history.js';
import { runEpisode, type FailureInfo } from './replay.js';
import { ActivityWorker } from './activity-worker.js';
import { Semaphore } from './semaphore.js';
import {
  TERMINAL,
  type DurableStore,
  type InstanceFilter,
  type InstanceRow,
  type InstanceTx,
  type RuntimeStatus,
} from './store.js';

export interface DurableEngineOptions {
  store: DurableStore;
  logger: HostLogger;
  orchestrators: Map<string, RegisteredFunction>;
  activities: Map<string, RegisteredFunction>;
  /** Extra inputs for activities (a durable client, should one ask for it). */
  inputs: InputProvider;
  maxConcurrentActivities: number;
  maxConcurrentOrchestrations: number;
  /** How often the store is polled for due timers and orphaned work (other processes, restarts). */
  pollIntervalMs?: number;
  /** Activity lease; renewed while the activity runs, so a crashed host's work is retried after it. */
  leaseMs?: number;
  /** How long stop() waits for running activities before releasing them to the next start. */
  drainTimeoutMs?: number;
}

export type StartResult =
  | { outcome: 'started'; instanceId: string }
  | { outcome: 'already-running'; instanceId: string }
  | { outcome: 'unknown-orchestrator' };

export type EventOutcome = 'accepted' | 'gone' | 'not-found';

export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  failureDetails?: { errorType?: string; errorMessage: string; stackTrace?: string };
  history?: Record<string, unknown>[];
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const EVENT_NAMES = Object.fromEntries(Object.entries(EventType).map(([name, n]) => [n, name]));

/**
 * Runs orchestrations the way the Durable extension does: every change to an instance (its start, an
 * activity result, a fired timer, a raised event) is an inbox row; a worker takes the instance's row lock,
 * replays the whole history plus the new events through the orchestrator wrapper, records what the
 * orchestrator decided, and commits. An in-process queue per instance and the row lock together make
 * sure no two workers (in this process or another) ever advance one instance at the same time.
 */
export class DurableEngine extends EventEmitter<{ finished: [string, RuntimeStatus] }> {
  readonly owner = `host-${randomUUID()}`;
  #o: Required<DurableEngineOptions>;
  #steps: Semaphore;
  #runners = new Map<string, { dirty: boolean; done: Promise<void> }>();
  #activities: ActivityWorker;
  #poller: NodeJS.Timeout | undefined;
  #wake: { timer: NodeJS.Timeout; at: number } | undefined;
  #stopping = false;

  constructor(options: DurableEngineOptions) {
    super();
    this.#o = { pollIntervalMs: 1000, leaseMs: 60_000, drainTimeoutMs: 10_000, ...options };
    this.#steps = new Semaphore(this.#o.maxConcurrentOrchestrations);
    this.#activities = new ActivityWorker({
      store: this.#o.store,
      logger: this.#o.logger,
      activities: this.#o.activities,
      inputs: this.#o.inputs,
      maxConcurrent: this.#o.maxConcurrentActivities,
      leaseMs: this.#o.leaseMs,
      owner: this.owner,
      onResult: (instanceId) => void this.kick(instanceId),
    });
  }

  get hub(): string {
    return this.#o.store.hub;
  }

  /** Creates the schema, then resumes whatever a previous run left: due events, timers, activities. */
  async start(): Promise<void> {
    await this.#o.store.migrate();
    this.#poller = setInterval(() => void this.#poll(), this.#o.pollIntervalMs);
    this.#poller.unref();
    this.#activities.start();
    await this.#poll();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#poller) clearInterval(this.#poller);
    if (this.#wake) clearTimeout(this.#wake.timer);
    await this.#activities.stop(this.#o.drainTimeoutMs);
    await Promise.allSettled([...this.#runners.values()].map((r) => r.done));
  }

  // ---- client operations (the /runtime/webhooks/durabletask API) ----

  async startNew(
    name: string,
    instanceId: string | undefined,
    inputText: string | undefined,
  ): Promise<StartResult> {
    if (!this.#o.orchestrators.has(name)) return { outcome: 'unknown-orchestrator' };
    const id = instanceId ?? randomUUID().replace(/-/g, '');
    const now = new Date();
    const row = { instanceId: id, name, input: inputText ?? null, bookkeeping: emptyBookkeeping() };
    const outcome = await this.#o.store.transaction(async (tx) => {
      if (!(await tx.insertInstance(row, now))) {
        const existing = await tx.lock(id);
        // A live instance keeps its id: starting it again is refused, as the extension does by default.
        if (existing && !TERMINAL.includes(existing.status)) return 'already-running' as const;
        await tx.restartInstance(row, now);
      }
      await tx.insertMessage(id, events.executionStarted(name, inputText, now), now);
      return 'started' as const;
    });
    if (outcome === 'started') void this.kick(id);
    return { outcome, instanceId: id };
  }

  async raiseEvent(
    instanceId: string,
    eventName: string,
    inputText: string | undefined,
  ): Promise<EventOutcome> {
    const now = new Date();
    const status = await this.#o.store.enqueueEvent(
      instanceId,
      events.eventRaised(eventName, inputText, now),
      now,
    );
    if (status === undefined) return 'not-found';
    if (TERMINAL.includes(status)) return 'gone';
    void this.kick(instanceId);
    return 'accepted';
  }

  async terminate(instanceId: string, reason: string | undefined): Promise<EventOutcome> {
    const outcome = await this.#exclusive(instanceId, () =>
      this.#o.store.transaction(async (tx) => {
        const instance = await tx.lock(instanceId);
        if (!instance) return 'not-found' as const;
        if (TERMINAL.includes(instance.status)) return 'gone' as const;
        const now = new Date();
        await tx.appendHistory(instanceId, instance.historyLength, [events.executionTerminated(reason, now)]);
        await tx.clearPending(instanceId);
        await tx.update(
          instanceId,
          {
            status: 'Terminated',
            output: JSON.stringify(reason ?? ''),
            historyLength: instance.historyLength + 1,
          },
          now,
        );
        return 'accepted' as const;
      }),
    );
    if (outcome === 'accepted') {
      this.#o.logger.info(`Durable: instance ${instanceId} terminated${reason ? ` (${reason})` : ''}`);
      this.emit('finished', instanceId, 'Terminated');
    }
    return outcome;
  }

  async status(
    instanceId: string,
    options: { showHistory?: boolean; showInput?: boolean } = {},
  ): Promise<InstanceStatus | undefined> {
    const row = await this.#o.store.getInstance(instanceId);
    if (!row) return undefined;
    const status = this.#toStatus(row, options.showInput !== false);
    if (options.showHistory) {
      const history = await this.#o.store.history(instanceId);
      status.history = history.map(({ EventType: type, IsPlayed: _played, ...rest }) => ({
        EventType: EVENT_NAMES[type] ?? type,
        ...rest,
      }));
    }
    return status;
  }

  async list(filter: InstanceFilter, showInput = true): Promise<InstanceStatus[]> {
    return (await this.#o.store.listInstances(filter)).map((row) => this.#toStatus(row, showInput));
  }

  async purge(filter: InstanceFilter & { instanceId?: string }): Promise<number> {
    return this.#o.store.purge(filter);
  }

  /** Resolves with the status once the instance is finished (tests and tooling). */
  async waitForCompletion(instanceId: string, timeoutMs = 30_000): Promise<InstanceStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status(instanceId);
      if (status && TERMINAL.includes(status.runtimeStatus)) return status;
      if (Date.now() > deadline)
        throw new Error(
          `Instance ${instanceId} did not finish in ${timeoutMs} ms (${status?.runtimeStatus ?? 'missing'})`,
        );
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  #toStatus(row: InstanceRow, showInput: boolean): InstanceStatus {
    const failure = row.failure as FailureInfo | null;
    return {
      name: row.name,
      instanceId: row.instanceId,
      runtimeStatus: row.status,
      input: showInput ? parseJson(row.input) : null,
      customStatus: parseJson(row.customStatus),
      output: parseJson(row.output),
      createdTime: row.createdAt.toISOString(),
      lastUpdatedTime: row.updatedAt.toISOString(),
      ...(failure
        ? {
            failureDetails: {
              errorMessage: failure.message,
              ...(failure.errorType ? { errorType: failure.errorType } : {}),
              ...(failure.stackTrace ? { stackTrace: failure.stackTrace } : {}),
            },
          }
        : {}),
    };
  }

  // ---- orchestration steps ----

  /** Schedules a replay of the instance (coalesced with one already queued or running). */
  kick(instanceId: string): Promise<void> {
    const existing = this.#runners.get(instanceId);
    if (existing) {
      existing.dirty = true;
      return existing.done;
    }
    const runner = { dirty: true, done: Promise.resolve() };
    runner.done = (async () => {
      await this.#steps.acquire();
      try {
        while (runner.dirty && !this.#stopping) {
          runner.dirty = false;
          while (!this.#stopping && (await this.#stepOnce(instanceId))) runner.dirty = false;
        }
      } catch (error) {
        this.#o.logger.error(`Durable: replay of ${instanceId} failed, will retry: ${errorText(error)}`);
      } finally {
        this.#steps.release();
        this.#runners.delete(instanceId);
      }
    })();
    this.#runners.set(instanceId, runner);
    return runner.done;
  }

  /** Runs `work` while no replay of this instance runs in this process. */
  async #exclusive<T>(instanceId: string, work: () => Promise<T>): Promise<T> {
    for (;;) {
      const running = this.#runners.get(instanceId);
      if (!running) break;
      await running.done;
    }
    return work();
  }

  /** One episode: replays the due inbox events. False when there was nothing to do. */
  async #stepOnce(instanceId: string): Promise<boolean> {
    const now = new Date();
    const { progressed, work, finished } = await this.#o.store.transaction(async (tx) => {
      const idle = {
        progressed: false,
        work: [] as Work[],
        finished: undefined as RuntimeStatus | undefined,
      };
      const instance = await tx.lock(instanceId);
      if (!instance) return idle;
      if (TERMINAL.includes(instance.status)) {
        // Results and events that arrive after the end have nothing to wake.
        await tx.clearPending(instanceId);
        return idle;
      }
      const messages = await tx.visibleMessages(instanceId, now);
      if (messages.length === 0) return idle;
      const batch = selectBatch(instance.bookkeeping, messages);
      const outcome = await this.#replay(
        tx,
        instance,
        batch.map((m) => m.event),
        now,
      );
      await tx.deleteMessages(batch.map((m) => m.id));
      return { progressed: true, work: outcome.work, finished: outcome.finished };
    });
    if (!progressed) return false;
    if (finished) this.emit('finished', instanceId, finished);
    if (work.some((w) => w.kind === 'activity')) void this.#activities.pump();
    for (const w of work) if (w.kind === 'timer') this.#wakeAt(w.fireAt);
    return true;
  }

  async #replay(
    tx: InstanceTx,
    instance: InstanceRow,
    batch: HistoryEvent[],
    now: Date,
  ): Promise<{ work: Work[]; finished: RuntimeStatus | undefined }> {
    const id = instance.instanceId;
    const fn = this.#o.orchestrators.get(instance.name);
    const started = events.orchestratorStarted(now);
    const fresh = batch.map((e) => ({ ...e, IsPlayed: false }));
    const record = async (
      appended: HistoryEvent[],
      patch: Parameters<InstanceTx['update']>[1],
    ): Promise<void> => {
      await tx.appendHistory(id, instance.historyLength, appended);
      await tx.update(id, { ...patch, historyLength: instance.historyLength + appended.length }, now);
    };
    const fail = async (
      failure: FailureInfo,
      customStatus: unknown,
    ): Promise<{ work: Work[]; finished: RuntimeStatus }> => {
      const output = `Orchestrator function '${instance.name}' failed: ${failure.message}`;
      this.#o.logger.error(`Durable: instance ${id} failed: ${failure.message}`);
      await record([started, ...fresh, events.executionCompleted('Failed', JSON.stringify(output), now)], {
        status: 'Failed',
        output: JSON.stringify(output),
        failure: { ...failure },
        ...(customStatus !== undefined ? { customStatus: jsonText(customStatus)! } : {}),
      });
      await tx.clearPending(id);
      return { work: [], finished: 'Failed' };
    };

    if (!fn)
      return fail(
        {
          message: `The function '${instance.name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        },
        undefined,
      );

    const history = (await tx.history(id)).map((e) => ({ ...e, IsPlayed: true }));
    const result = await runEpisode({
      fn,
      logger: this.#o.logger,
      instanceId: id,
      input: parseJson(instance.input) ?? undefined,
      history: [...history, started, ...fresh],
    });
    if (result.kind === 'failed') return fail(result.failure, result.customStatus);
    let customStatus: string | undefined;
    let outputText: string | undefined;
    try {
      customStatus = result.customStatus === undefined ? undefined : jsonText(result.customStatus);
      outputText = jsonText(result.output);
    } catch (error) {
      // An output the extension could not serialize either (a BigInt, a cycle): fail, don't retry forever.
      return fail(
        { message: `The orchestrator's output or custom status is not JSON: ${(error as Error).message}` },
        undefined,
      );
    }
    if (result.actions.unsupported)
      return fail(
        { message: `The local Functions host does not support ${result.actions.unsupported}.` },
        undefined,
      );

    if (result.kind === 'completed') {
      const nondeterminism = checkDeterminism(instance.bookkeeping.actions, result.actions.scheduled);
      if (nondeterminism)
        return fail(
          { message: nondeterminism, errorType: 'NonDeterministicOrchestrationException' },
          undefined,
        );
      if (result.actions.continueAsNew)
        return this.#continueAsNew(tx, instance, result.actions.continueAsNew.input, now);
      await record([started, ...fresh, events.executionCompleted('Completed', outputText, now)], {
        status: 'Completed',
        output: outputText ?? 'null',
        ...(customStatus !== undefined ? { customStatus } : {}),
      });
      await tx.clearPending(id);
      this.#o.logger.info(`Durable: instance ${id} (${instance.name}) completed`);
      return { work: [], finished: 'Completed' };
    }

    const plan = planEpisode(instance.bookkeeping, result.actions.scheduled, fresh, now);
    if (plan.nondeterminism)
      return fail(
        { message: plan.nondeterminism, errorType: 'NonDeterministicOrchestrationException' },
        undefined,
      );
    for (const w of plan.work) {
      if (w.kind === 'activity') await tx.insertActivity(id, w.id, w.name, w.input);
      else if (w.kind === 'timer') await tx.insertMessage(id, events.timerFired(w.id, w.fireAt), w.fireAt);
      else await tx.cancelTimer(id, w.id);
    }
    await record([started, ...fresh, ...plan.newEvents, events.orchestratorCompleted(now)], {
      status: 'Running',
      bookkeeping: plan.bookkeeping,
      ...(customStatus !== undefined ? { customStatus } : {}),
    });
    return { work: plan.work, finished: undefined };
  }

  /** `continueAsNew`: a fresh history with the new input; raised events not yet consumed carry over. */
  async #continueAsNew(
    tx: InstanceTx,
    instance: InstanceRow,
    input: unknown,
    now: Date,
  ): Promise<{ work: Work[]; finished: undefined }> {
    const id = instance.instanceId;
    const inputText = jsonText(input);
    await tx.dropStaleWork(id, true);
    await tx.clearHistory(id);
    await tx.insertMessage(id, events.executionStarted(instance.name, inputText, now), now);
    const bookkeeping: Bookkeeping = emptyBookkeeping();
    await tx.update(
      id,
      { status: 'Running', input: inputText ?? 'null', bookkeeping, historyLength: 0 },
      now,
    );
    return { work: [], finished: undefined };
  }

  // ---- timers and polling ----

  #wakeAt(at: Date): void {
    if (this.#stopping) return;
    const when = at.getTime();
    if (this.#wake && this.#wake.at <= when) return;
    if (this.#wake) clearTimeout(this.#wake.timer);
    const timer = setTimeout(
      () => {
        this.#wake = undefined;
        void this.#poll();
      },
      Math.min(Math.max(0, when - Date.now()), 2 ** 31 - 1),
    );
    timer.unref();
    this.#wake = { timer, at: when };
  }

  async #poll(): Promise<void> {
    if (this.#stopping) return;
    try {
      const now = new Date();
      for (const id of await this.#o.store.dueInstances(now)) void this.kick(id);
      await this.#activities.pump();
      const next = await this.#o.store.nextVisibleAt(now);
      if (next) this.#wakeAt(next);
    } catch (error) {
      if (!this.#stopping) this.#o.logger.error(`Durable: poll failed: ${errorText(error)}`);
    }
  }
}

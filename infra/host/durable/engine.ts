import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { InputProvider } from '../invocation.js';
import type { HostLogger, RegisteredFunction } from '../types.js';
import { checkDeterminism, emptyBookkeeping, planEpisode, selectBatch, type Work } from './episode.js';
import { safeErrorText, safeMessage } from './errors.js';
import { EventType, events, jsonText, type HistoryEvent } from './history.js';
import { runEpisode, type FailureInfo } from './replay.js';
import { ActivityWorker } from './activity-worker.js';
import { Semaphore } from './semaphore.js';
import {
  TERMINAL,
  type ActivityRow,
  type DurableStore,
  type EpisodeOutcome,
  type EpisodeWrite,
  type InstanceFilter,
  type InstanceRow,
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

/** Waits before each attempt to put an activity result in the inbox (a killed connection is retried). */
const INBOX_RETRY_DELAYS_MS = [0, 100, 500, 2000];
/** Waits before replaying an episode again after its read or write failed. */
const EPISODE_RETRY_DELAYS_MS = [50, 250];

/** An activity result held in memory until an episode (or the inbox) has it; `settle` frees its lease. */
interface PendingResult {
  activity: ActivityRow;
  event: HistoryEvent;
  /** Epoch ms when the activity finished, to replay it in arrival order among inbox rows. */
  arrivedAt: number;
  settle: () => void;
}

interface Runner {
  /** The inbox may hold something new. */
  dirty: boolean;
  results: PendingResult[];
  done: Promise<void>;
}

/** Something to replay: an inbox row, or a result held in memory. */
interface Candidate {
  event: HistoryEvent;
  at: number;
  messageId?: string;
  result?: PendingResult;
}

interface StepResult {
  kind: 'idle' | 'progressed' | 'conflict';
  /** Results to replay in a later episode of this runner. */
  requeue: PendingResult[];
  /** Due inbox rows were left for the next episode. */
  more: boolean;
}

/** What an episode decided: the write (but the parts the step adds) and what to do once it is written. */
interface Decision {
  write: Omit<
    EpisodeWrite,
    | 'instanceId'
    | 'expectedVersion'
    | 'consumedActivities'
    | 'deleteMessages'
    | 'insertActivities'
    | 'lease'
    | 'now'
  >;
  work: Work[];
  finished: RuntimeStatus | undefined;
  more?: boolean;
  after?: () => void;
}

/**
 * Runs orchestrations the way the Durable extension does: every change to an instance (its start, a
 * fired timer, a raised event, an activity result) is an inbox row, or — for a result of an activity
 * this process ran — a result held in memory until the episode that replays it. An episode reads the
 * instance, its due inbox and its history in one statement, replays them through the orchestrator
 * wrapper, and writes everything the orchestrator decided in one statement that applies only if the
 * instance's version is still the one it read (so exactly one of two competing workers, in this process
 * or another, advances an instance; the other replays again). One runner per instance in this process
 * keeps its episodes in order; activities scheduled by an episode start right after its write, leased
 * to this process by that same write.
 */
export class DurableEngine extends EventEmitter<{ finished: [string, RuntimeStatus] }> {
  readonly owner = `host-${randomUUID()}`;
  #o: Required<DurableEngineOptions>;
  #steps: Semaphore;
  #runners = new Map<string, Runner>();
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
      onResult: (activity, event) => this.#deliver(activity, event),
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
    const started = events.executionStarted(name, inputText, now);
    let outcome: 'started' | 'already-running' | 'retry' = 'retry';
    // A new id (the usual case) is one statement; a taken id needs a look at the instance under its lock.
    for (let attempt = 0; outcome === 'retry' && attempt < 3; attempt++) {
      if (await this.#o.store.createInstance(row, started, now)) outcome = 'started';
      else
        outcome = await this.#o.store.transaction(async (tx) => {
          const existing = await tx.lock(id);
          if (!existing) return 'retry' as const; // purged in between: create it afresh
          // A live instance keeps its id: starting it again is refused, as the extension does by default.
          if (!TERMINAL.includes(existing.status)) return 'already-running' as const;
          await tx.restartInstance(row, now);
          await tx.insertMessage(id, started, now);
          return 'started' as const;
        });
    }
    if (outcome === 'retry') throw new Error(`Instance ${id} could not be created (it kept changing)`);
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

  /**
   * Schedules a replay of the instance (coalesced with one already queued or running). With `result`,
   * an activity result held in memory goes along: the episode that replays it also records it.
   */
  kick(instanceId: string, result?: PendingResult): Promise<void> {
    const existing = this.#runners.get(instanceId);
    if (existing) {
      if (result) existing.results.push(result);
      else existing.dirty = true;
      return existing.done;
    }
    const runner: Runner = { dirty: !result, results: result ? [result] : [], done: Promise.resolve() };
    this.#runners.set(instanceId, runner);
    runner.done = this.#run(instanceId, runner);
    return runner.done;
  }

  async #run(instanceId: string, runner: Runner): Promise<void> {
    await this.#steps.acquire();
    let conflicts = 0;
    let failures = 0;
    try {
      while (!this.#stopping && (runner.dirty || runner.results.length > 0)) {
        runner.dirty = false;
        const taken = runner.results.splice(0);
        let step: StepResult;
        try {
          step = await this.#stepOnce(instanceId, taken);
        } catch (error) {
          // The results could not ride on an episode: record them the ordinary way. A lost connection
          // is retried at once on a fresh one; after that the poll retries the episode from the inbox.
          await Promise.all(taken.map((r) => this.#recordInInbox(r)));
          if (++failures > EPISODE_RETRY_DELAYS_MS.length) throw error;
          this.#o.logger.warn(`Durable: episode of ${instanceId} failed, retrying: ${safeErrorText(error)}`);
          await new Promise((resolve) => setTimeout(resolve, EPISODE_RETRY_DELAYS_MS[failures - 1]));
          runner.dirty = true;
          continue;
        }
        runner.results.unshift(...step.requeue);
        if (step.more) runner.dirty = true;
        if (step.kind === 'conflict') {
          // Another writer (another host, a terminate) got there first: read again. Bounded, in case
          // something keeps changing the row; the poll picks the inbox up later.
          if (++conflicts > 20) {
            await Promise.all(runner.results.splice(0).map((r) => this.#recordInInbox(r)));
            break;
          }
          runner.dirty = true;
        }
      }
    } catch (error) {
      this.#o.logger.error(`Durable: replay of ${instanceId} failed, will retry: ${safeErrorText(error)}`);
    } finally {
      this.#steps.release();
      this.#runners.delete(instanceId);
    }
    // Stopping with results still in memory: into the inbox, for the next start.
    if (runner.results.length > 0)
      await Promise.all(runner.results.splice(0).map((r) => this.#recordInInbox(r)));
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

  /** An activity's result: replayed by the instance's next episode, which records it with its own write. */
  #deliver(activity: ActivityRow, event: HistoryEvent): Promise<void> {
    const arrivedAt = Date.now();
    if (this.#stopping) return this.#recordInInbox({ activity, event, arrivedAt, settle: () => undefined });
    return new Promise<void>((resolve) => {
      void this.kick(activity.instanceId, { activity, event, arrivedAt, settle: resolve });
    });
  }

  /**
   * Puts a result in the instance's inbox (its own statement). A killed connection is retried on a
   * fresh one; if the database stays unreachable the lease is handed back, so the activity runs again
   * as soon as anyone can claim it rather than when the lease lapses.
   */
  async #recordInInbox(result: PendingResult): Promise<void> {
    const { activity, event } = result;
    let lastError: unknown;
    try {
      for (const delay of INBOX_RETRY_DELAYS_MS) {
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        try {
          if (await this.#o.store.completeActivity(activity, event, new Date()))
            if (!this.#stopping) void this.kick(activity.instanceId);
          return;
        } catch (error) {
          lastError = error;
        }
      }
      this.#o.logger.error(
        `Durable: could not record the result of activity ${activity.name} for ${activity.instanceId}; it will run again: ${safeErrorText(lastError)}`,
      );
      await this.#o.store.releaseLeases(this.owner, [activity.id]).catch(() => undefined);
    } finally {
      result.settle();
    }
  }

  /**
   * One episode: one read (instance, due inbox, history), the replay, one version-checked write. The
   * instance row is not locked while the orchestrator runs; a write that finds the row changed does
   * nothing and the episode is replayed from a fresh read.
   */
  async #stepOnce(instanceId: string, results: PendingResult[]): Promise<StepResult> {
    const now = new Date();
    const snapshot = await this.#o.store.readEpisode(instanceId, now, results.length > 0);
    const idle: StepResult = { kind: 'idle', requeue: [], more: false };
    if (!snapshot) {
      // Purged: its executions went with it.
      results.forEach((r) => r.settle());
      return idle;
    }
    const { instance, messages, history } = snapshot;
    if (TERMINAL.includes(instance.status)) {
      // Results and events that arrive after the end have nothing to wake.
      if (messages.length > 0 || results.length > 0) await this.#o.store.clearPending(instanceId);
      results.forEach((r) => r.settle());
      return idle;
    }
    // In arrival order, inbox rows and results held in memory alike (the sort is stable).
    const candidates: Candidate[] = [
      ...messages.map((m) => ({ event: m.event, messageId: m.id, at: Date.parse(m.visibleAt) })),
      ...results.map((r) => ({ event: r.event, result: r, at: r.arrivedAt })),
    ].sort((a, b) => a.at - b.at);
    if (candidates.length === 0) return idle;
    const batch = selectBatch(instance.bookkeeping, candidates);
    const consumed = batch.flatMap((c) => (c.result ? [c.result] : []));
    const requeue = results.filter((r) => !consumed.includes(r));
    let more = batch.length - consumed.length < messages.length;

    const decision = await this.#replay(
      instance,
      history,
      batch.map((c) => c.event),
      now,
    );
    const activities = decision.work.filter((w) => w.kind === 'activity');
    const reserved = this.#activities.reserve(activities.length);
    const leasedTasks = new Set(activities.slice(0, reserved).map((w) => w.id));
    let outcome: EpisodeOutcome;
    try {
      outcome = await this.#o.store.writeEpisode({
        ...decision.write,
        instanceId,
        expectedVersion: instance.version,
        consumedActivities: consumed.map((r) => r.activity.id),
        deleteMessages: batch.flatMap((c) => (c.messageId !== undefined ? [c.messageId] : [])),
        insertActivities: activities.map((w) => ({
          taskId: w.id,
          name: w.name,
          input: w.input,
          leased: leasedTasks.has(w.id),
        })),
        lease: { owner: this.owner, until: new Date(Date.now() + this.#o.leaseMs) },
        now,
      });
    } catch (error) {
      this.#activities.unreserve(reserved);
      // The write may have committed with its answer lost: executions it leased to this process are
      // then re-claimed by the next pump instead of waiting for their lease.
      if (activities.length > 0) this.#activities.noteBacklog();
      throw error;
    }
    if (!outcome.applied) {
      this.#activities.unreserve(reserved);
      if (outcome.reason === 'gone') {
        consumed.forEach((r) => r.settle());
        return { kind: 'idle', requeue, more: false };
      }
      // A consumed execution that is gone was recorded elsewhere (or dropped): never replay it twice.
      const missing = new Set(outcome.missing);
      for (const r of consumed) if (missing.has(r.activity.id)) r.settle();
      return {
        kind: 'conflict',
        requeue: [...consumed.filter((r) => !missing.has(r.activity.id)), ...requeue],
        more: true,
      };
    }

    consumed.forEach((r) => r.settle());
    if (decision.more) more = true;
    this.#activities.unreserve(reserved - outcome.leased.length);
    this.#activities.runLeased(outcome.leased);
    if (outcome.leased.length < activities.length) {
      this.#activities.noteBacklog();
      void this.#activities.pump();
    }
    for (const w of decision.work) if (w.kind === 'timer') this.#wakeAt(w.fireAt);
    decision.after?.();
    if (decision.finished) this.emit('finished', instanceId, decision.finished);
    return { kind: 'progressed', requeue, more };
  }

  /**
   * Replays the history plus the new events through the orchestrator wrapper and decides what to
   * write. Pure apart from the orchestrator call: nothing is written here.
   */
  async #replay(
    instance: InstanceRow,
    stored: HistoryEvent[],
    batch: HistoryEvent[],
    now: Date,
  ): Promise<Decision> {
    const id = instance.instanceId;
    const fn = this.#o.orchestrators.get(instance.name);
    const started = events.orchestratorStarted(now);
    const fresh = batch.map((e) => ({ ...e, IsPlayed: false }));
    const base = {
      input: instance.input,
      output: instance.output,
      customStatus: instance.customStatus,
      failure: null,
      bookkeeping: instance.bookkeeping,
    };
    const write = (
      appended: HistoryEvent[],
      patch: Partial<Decision['write']['instance']>,
      rest: Partial<Omit<Decision['write'], 'instance'>> = {},
    ): Decision['write'] => ({
      instance: {
        ...base,
        status: 'Running',
        historyLength: instance.historyLength + appended.length,
        ...patch,
      },
      clearHistory: false,
      appendHistory: { from: instance.historyLength, events: appended },
      clearMessages: 'none',
      cancelTimers: [],
      insertMessages: [],
      clearActivities: false,
      ...rest,
    });
    const fail = (failure: FailureInfo, customStatus: unknown): Decision => {
      const output = `Orchestrator function '${instance.name}' failed: ${failure.message}`;
      return {
        write: write(
          [started, ...fresh, events.executionCompleted('Failed', JSON.stringify(output), now)],
          {
            status: 'Failed',
            output: JSON.stringify(output),
            failure: { ...failure },
            ...(customStatus !== undefined ? { customStatus: jsonText(customStatus)! } : {}),
          },
          { clearMessages: 'all', clearActivities: true },
        ),
        work: [],
        finished: 'Failed',
        after: () => this.#o.logger.error(`Durable: instance ${id} failed: ${safeMessage(failure.message)}`),
      };
    };

    if (!fn)
      return fail(
        {
          message: `The function '${instance.name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        },
        undefined,
      );

    const result = await runEpisode({
      fn,
      logger: this.#o.logger,
      instanceId: id,
      input: parseJson(instance.input) ?? undefined,
      history: [...stored.map((e) => ({ ...e, IsPlayed: true })), started, ...fresh],
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
      if (result.actions.continueAsNew) {
        // A fresh history with the new input; raised events not yet consumed carry over.
        const inputText = jsonText(result.actions.continueAsNew.input);
        return {
          write: write(
            [],
            { input: inputText ?? 'null', bookkeeping: emptyBookkeeping(), historyLength: 0 },
            {
              clearHistory: true,
              appendHistory: { from: 0, events: [] },
              clearMessages: 'except-raised',
              clearActivities: true,
              insertMessages: [
                { event: events.executionStarted(instance.name, inputText, now), visibleAt: now },
              ],
            },
          ),
          work: [],
          finished: undefined,
          // Its ExecutionStarted is in the inbox: the next episode starts the new execution.
          more: true,
        };
      }
      return {
        write: write(
          [started, ...fresh, events.executionCompleted('Completed', outputText, now)],
          {
            status: 'Completed',
            output: outputText ?? 'null',
            ...(customStatus !== undefined ? { customStatus } : {}),
          },
          { clearMessages: 'all', clearActivities: true },
        ),
        work: [],
        finished: 'Completed',
        after: () => this.#o.logger.info(`Durable: instance ${id} (${instance.name}) completed`),
      };
    }

    const plan = planEpisode(instance.bookkeeping, result.actions.scheduled, fresh, now);
    if (plan.nondeterminism)
      return fail(
        { message: plan.nondeterminism, errorType: 'NonDeterministicOrchestrationException' },
        undefined,
      );
    return {
      write: write(
        [started, ...fresh, ...plan.newEvents, events.orchestratorCompleted(now)],
        { bookkeeping: plan.bookkeeping, ...(customStatus !== undefined ? { customStatus } : {}) },
        {
          cancelTimers: plan.work.flatMap((w) => (w.kind === 'cancelTimer' ? [w.id] : [])),
          insertMessages: plan.work.flatMap((w) =>
            w.kind === 'timer' ? [{ event: events.timerFired(w.id, w.fireAt), visibleAt: w.fireAt }] : [],
          ),
        },
      ),
      work: plan.work,
      finished: undefined,
    };
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
      if (!this.#stopping) this.#o.logger.error(`Durable: poll failed: ${safeErrorText(error)}`);
    }
  }
}

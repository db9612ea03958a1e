import { retryDelayMs, type RetryOptionsShape, type ScheduledAction } from './actions.js';
import { EventType, events, jsonText, type HistoryEvent } from './history.js';

/**
 * The host-side bookkeeping the Durable extension keeps for an instance, and the pure decision of what
 * one replay episode means: which new history events to record, which work to start, and whether the
 * replay disagreed with history (non-determinism).
 *
 * Sequence ids: the library numbers tasks in the order it tracks them. New actions of an episode take
 * the next ids in flattened order. A failed attempt of `callActivityWithRetry` makes the library track
 * two extra tasks: the retry timer (right when the failure is replayed) and, when the timer fires and
 * attempts remain, the rescheduled attempt. Neither has an action of its own; the extension (here, the
 * host) creates them. To keep both numberings aligned, the engine replays at most one such
 * retry-sensitive event per episode, as the batch's last event, and numbers it after the new actions.
 */

export interface RecordedAction {
  kind: 'activity' | 'timer';
  id: number;
  name?: string;
  retry?: boolean;
}

export interface RetryAttempt {
  name: string;
  input: unknown;
  options: RetryOptionsShape;
  attempt: number;
}

export interface Bookkeeping {
  nextSeq: number;
  actions: RecordedAction[];
  /** Retryable attempts in flight, by the id of their TaskScheduled. */
  retryTasks: Record<string, RetryAttempt>;
  /** Retry timers pending, by timer id (the attempt that failed). */
  retryTimers: Record<string, RetryAttempt>;
}

export const emptyBookkeeping = (): Bookkeeping => ({
  nextSeq: 0,
  actions: [],
  retryTasks: {},
  retryTimers: {},
});

export type Work =
  | { kind: 'activity'; id: number; name: string; input: unknown }
  | { kind: 'timer'; id: number; fireAt: Date }
  | { kind: 'cancelTimer'; id: number };

export interface Plan {
  newEvents: HistoryEvent[];
  work: Work[];
  bookkeeping: Bookkeeping;
  nondeterminism?: string;
}

export function isRetrySensitive(bookkeeping: Bookkeeping, event: HistoryEvent): boolean {
  if (event.EventType === EventType.TaskFailed)
    return String(event.TaskScheduledId) in bookkeeping.retryTasks;
  if (event.EventType === EventType.TimerFired) return String(event.TimerId) in bookkeeping.retryTimers;
  return false;
}

/** Messages replayed in one episode: in arrival order, up to and including the first retry-sensitive one. */
export function selectBatch<T extends { event: HistoryEvent }>(bookkeeping: Bookkeeping, messages: T[]): T[] {
  const cut = messages.findIndex((m) => isRetrySensitive(bookkeeping, m.event));
  return cut < 0 ? messages : messages.slice(0, cut + 1);
}

function describe(action: RecordedAction | ScheduledAction): string {
  if (action.kind === 'timer') return 'a durable timer';
  const retry = 'retry' in action && action.retry ? ' with retry' : '';
  return `an activity task${retry} named '${action.name}'`;
}

function sameAction(recorded: RecordedAction, replayed: ScheduledAction): boolean {
  if (recorded.kind !== replayed.kind) return false;
  if (replayed.kind === 'timer') return true;
  return recorded.name === replayed.name && Boolean(recorded.retry) === (replayed.retry !== undefined);
}

/** Compares the replayed actions with those recorded in history, as DTFx does on every replay. */
export function checkDeterminism(
  recorded: RecordedAction[],
  replayed: ScheduledAction[],
): string | undefined {
  for (let i = 0; i < recorded.length; i++) {
    const before = recorded[i]!;
    const now = replayed[i];
    if (!now)
      return `Non-Deterministic workflow detected: A previous execution of this orchestration scheduled ${describe(before)} with sequence ID ${before.id}, but the current replay execution hasn't (yet?) scheduled this task. Was a change made to the orchestrator code after this instance had already started running?`;
    if (!sameAction(before, now))
      return `Non-Deterministic workflow detected: A previous execution of this orchestration scheduled ${describe(before)} with sequence ID ${before.id}, but the current replay execution scheduled ${describe(now)} in its place. Was a change made to the orchestrator code after this instance had already started running?`;
  }
  return undefined;
}

/**
 * Plans what a running (not finished) episode leads to. `batch` are the events replayed for the first
 * time; if the last one is retry-sensitive it is answered after the new actions got their ids.
 */
export function planEpisode(
  previous: Bookkeeping,
  replayed: ScheduledAction[],
  batch: HistoryEvent[],
  now: Date,
): Plan {
  const bookkeeping: Bookkeeping = structuredClone(previous);
  const newEvents: HistoryEvent[] = [];
  const work: Work[] = [];

  const nondeterminism = checkDeterminism(bookkeeping.actions, replayed);
  if (nondeterminism) return { newEvents, work, bookkeeping: previous, nondeterminism };

  // Timers the orchestrator cancelled (e.g. the loser of Task.any) need not fire.
  replayed.slice(0, bookkeeping.actions.length).forEach((action, i) => {
    if (action.kind === 'timer' && action.isCanceled)
      work.push({ kind: 'cancelTimer', id: bookkeeping.actions[i]!.id });
  });

  // A retryable task that finished no longer needs bookkeeping.
  for (const event of batch)
    if (event.EventType === EventType.TaskCompleted)
      delete bookkeeping.retryTasks[String(event.TaskScheduledId)];

  for (const action of replayed.slice(bookkeeping.actions.length)) {
    const id = bookkeeping.nextSeq++;
    if (action.kind === 'activity') {
      bookkeeping.actions.push({
        kind: 'activity',
        id,
        name: action.name,
        ...(action.retry ? { retry: true } : {}),
      });
      newEvents.push(events.taskScheduled(id, action.name, jsonText(action.input), now));
      work.push({ kind: 'activity', id, name: action.name, input: action.input });
      if (action.retry)
        bookkeeping.retryTasks[String(id)] = {
          name: action.name,
          input: action.input,
          options: action.retry,
          attempt: 1,
        };
    } else {
      bookkeeping.actions.push({ kind: 'timer', id });
      newEvents.push(events.timerCreated(id, action.fireAt, now));
      if (!action.isCanceled) work.push({ kind: 'timer', id, fireAt: action.fireAt });
    }
  }

  const last = batch[batch.length - 1];
  if (last && isRetrySensitive(previous, last)) {
    if (last.EventType === EventType.TaskFailed) {
      const key = String(last.TaskScheduledId);
      const attempt = bookkeeping.retryTasks[key]!;
      delete bookkeeping.retryTasks[key];
      const timerId = bookkeeping.nextSeq++;
      // The library waits for this timer even after the last attempt, then fails the task.
      const fireAt = new Date(now.getTime() + retryDelayMs(attempt.options, attempt.attempt));
      bookkeeping.retryTimers[String(timerId)] = attempt;
      newEvents.push(events.timerCreated(timerId, fireAt, now));
      work.push({ kind: 'timer', id: timerId, fireAt });
    } else {
      const key = String(last.TimerId);
      const attempt = bookkeeping.retryTimers[key]!;
      delete bookkeeping.retryTimers[key];
      if (attempt.attempt < attempt.options.maxNumberOfAttempts) {
        const id = bookkeeping.nextSeq++;
        bookkeeping.retryTasks[String(id)] = { ...attempt, attempt: attempt.attempt + 1 };
        newEvents.push(events.taskScheduled(id, attempt.name, jsonText(attempt.input), now));
        work.push({ kind: 'activity', id, name: attempt.name, input: attempt.input });
      }
    }
  }
  return { newEvents, work, bookkeeping };
}

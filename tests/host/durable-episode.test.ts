import { describe, expect, it } from 'vitest';
import type { ScheduledAction } from '../../infra/host/durable/actions.js';
import {
  checkDeterminism,
  emptyBookkeeping,
  planEpisode,
  selectBatch,
  type Bookkeeping,
} from '../../infra/host/durable/episode.js';
import { EventType, events } from '../../infra/host/durable/history.js';

const now = new Date('2024-05-01T10:00:00Z');
const retry = { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 2, backoffCoefficient: 2 };
const act = (name: string, withRetry = false): ScheduledAction => ({
  kind: 'activity',
  name,
  input: undefined,
  retry: withRetry ? retry : undefined,
});

describe('episode planning (sequence ids, retries, determinism)', () => {
  it('numbers new actions in flattened order after those already recorded', () => {
    const first = planEpisode(emptyBookkeeping(), [act('a'), act('b')], [], now);
    expect(first.newEvents.map((e) => [e.EventType, e.EventId])).toEqual([
      [EventType.TaskScheduled, 0],
      [EventType.TaskScheduled, 1],
    ]);
    const second = planEpisode(
      first.bookkeeping,
      [act('a'), act('b'), { kind: 'timer', fireAt: now, isCanceled: false }],
      [],
      now,
    );
    expect(second.newEvents.map((e) => e.EventId)).toEqual([2]);
    expect(second.work).toEqual([{ kind: 'timer', id: 2, fireAt: now }]);
  });

  it('answers a retryable failure with a retry timer numbered after the new actions', () => {
    const started = planEpisode(emptyBookkeeping(), [act('flaky', true)], [], now);
    const failed = events.taskFailed(0, 'failed', 'stack', undefined, now);
    const plan = planEpisode(started.bookkeeping, [act('flaky', true), act('other')], [failed], now);
    expect(plan.newEvents.map((e) => [e.EventType, e.EventId])).toEqual([
      [EventType.TaskScheduled, 1], // the orchestrator's new action first
      [EventType.TimerCreated, 2], // then the retry timer the library tracks when it replays the failure
    ]);
    expect(plan.work).toContainEqual({ kind: 'timer', id: 2, fireAt: new Date(now.getTime() + 1000) });

    // The timer fires with an attempt left: the attempt is rescheduled under the next id.
    const fired = events.timerFired(2, now);
    const again = planEpisode(plan.bookkeeping, [act('flaky', true), act('other')], [fired], now);
    expect(again.work).toEqual([{ kind: 'activity', id: 3, name: 'flaky', input: undefined }]);

    // It fails again: no attempts left after the next timer (backoff doubles the delay).
    const lastFailure = planEpisode(
      again.bookkeeping,
      [act('flaky', true), act('other')],
      [events.taskFailed(3, 'x', 'y', undefined, now)],
      now,
    );
    expect(lastFailure.work).toEqual([{ kind: 'timer', id: 4, fireAt: new Date(now.getTime() + 2000) }]);
    const exhausted = planEpisode(
      lastFailure.bookkeeping,
      [act('flaky', true), act('other')],
      [events.timerFired(4, now)],
      now,
    );
    expect(exhausted.work).toEqual([]);
    expect(exhausted.bookkeeping.nextSeq).toBe(5);
  });

  it('replays at most one retry-sensitive event per episode, as the last of the batch', () => {
    const bookkeeping: Bookkeeping = {
      ...emptyBookkeeping(),
      nextSeq: 3,
      retryTasks: {
        '0': { name: 'a', input: 1, options: retry, attempt: 1 },
        '1': { name: 'b', input: 2, options: retry, attempt: 1 },
      },
    };
    const messages = [
      { event: events.taskCompleted(2, '1', now) },
      { event: events.taskFailed(0, 'r', 'd', undefined, now) },
      { event: events.eventRaised('e', undefined, now) },
      { event: events.taskFailed(1, 'r', 'd', undefined, now) },
    ];
    expect(selectBatch(bookkeeping, messages)).toEqual(messages.slice(0, 2));
  });

  it('detects an orchestrator that schedules something else than its history says', () => {
    const recorded = planEpisode(emptyBookkeeping(), [act('a'), act('b')], [], now).bookkeeping.actions;
    expect(checkDeterminism(recorded, [act('a'), act('b'), act('c')])).toBeUndefined();
    expect(checkDeterminism(recorded, [act('a'), act('x')])).toMatch(/Non-Deterministic.*'b'.*'x'/);
    expect(checkDeterminism(recorded, [act('a')])).toMatch(/hasn't \(yet\?\) scheduled/);
    expect(checkDeterminism(recorded, [act('a'), { kind: 'timer', fireAt: now, isCanceled: false }])).toMatch(
      /durable timer/,
    );
  });
});

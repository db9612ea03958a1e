import { describe, expect, it } from 'vitest';
import type { OrchestrationContext, Task } from 'durable-functions';
import { COMPENSATE_PAUSES_SECONDS, checkoutOrchestrator } from '../../../functions/checkout/orchestrator.js';
import {
  ACTIVITY,
  PAYMENT_UPDATED_EVENT,
  type CheckoutInput,
} from '../../../shared/services/checkout/checkout-types.js';
import { parseSettings } from '../../../shared/config/index.js';

/** The orchestrator's money decisions, driven task by task (as in orchestrator-finalize.test.ts). */

type Yielded =
  | { kind: 'activity'; name: string; payload: unknown }
  | { kind: 'timer'; fireAt: Date }
  | { kind: 'event'; name: string; result?: unknown }
  | { kind: 'any'; tasks: Yielded[] };

const input: CheckoutInput = {
  orderId: '7a1f2b9e-0000-4000-8000-000000000011',
  tenantId: '7a1f2b9e-0000-4000-8000-000000000012',
  paymentTimeoutSeconds: 900,
};
const start = new Date('2026-11-26T12:00:00Z');

function drive() {
  const df = {
    getInput: () => input,
    currentUtcDateTime: start,
    callActivityWithRetry: (name: string, _retry: unknown, payload: unknown) => ({
      kind: 'activity',
      name,
      payload,
    }),
    createTimer: (fireAt: Date) => ({ kind: 'timer', fireAt, cancel: () => undefined }),
    waitForExternalEvent: (name: string) => ({ kind: 'event', name }),
    Task: { any: (tasks: Yielded[]) => ({ kind: 'any', tasks }) },
  };
  const generator = checkoutOrchestrator({ df } as unknown as OrchestrationContext);
  const step = (r: IteratorResult<Task, unknown>) =>
    r.done
      ? { done: true as const, value: r.value }
      : { done: false as const, task: r.value as unknown as Yielded };
  return {
    first: () => step(generator.next()),
    answer: (value: unknown) => step(generator.next(value)),
    fail: (error: Error) => step(generator.throw(error)),
  };
}

/** reserve → create → confirm (requires_action) → the wait for the payment. */
function waiting() {
  const d = drive();
  d.first();
  d.answer({ outcome: 'reserved' });
  d.answer({ outcome: 'created', paymentIntentId: 'pi_1' });
  const wait = d.answer({ outcome: 'requires_action' });
  expect(wait).toMatchObject({ task: { kind: 'any' } });
  return { d, wait: wait as { task: { kind: 'any'; tasks: Yielded[] } } };
}

describe('checkout orchestrator: money rules', () => {
  it('a PaymentUpdated(succeeded) that finalize does not confirm leaves the order waiting, same deadline', () => {
    const { d, wait } = waiting();
    const event = wait.task.tasks[0] as { kind: 'event'; name: string; result?: unknown };
    const timer = wait.task.tasks[1] as { kind: 'timer'; fireAt: Date };
    expect(event.name).toBe(PAYMENT_UPDATED_EVENT);
    event.result = { status: 'succeeded' };
    expect(d.answer(event)).toMatchObject({ task: { kind: 'activity', name: ACTIVITY.finalize } });
    const again = d.answer({ outcome: 'not_paid' });
    expect(again).toMatchObject({ done: false, task: { kind: 'any' } });
    const nextTimer = (again as { task: { tasks: Yielded[] } }).task.tasks[1] as { fireAt: Date };
    expect(nextTimer.fireAt).toEqual(timer.fireAt);
  });

  it('a PaymentUpdated(failed) is acted on only once the ledger or Stripe shows the failure', () => {
    const { d, wait } = waiting();
    const event = wait.task.tasks[0] as { kind: 'event'; result?: unknown };
    event.result = { status: 'failed' };
    expect(d.answer(event)).toMatchObject({ task: { name: ACTIVITY.checkPayment } });
    // Forged: the intent is still waiting for the customer.
    const again = d.answer({ status: 'requires_action' }) as { task: { kind: string; tasks: Yielded[] } };
    expect(again.task.kind).toBe('any');
    const real = again.task.tasks[0] as { kind: 'event'; result?: unknown };
    real.result = { status: 'failed' };
    expect(d.answer(real)).toMatchObject({ task: { name: ACTIVITY.checkPayment } });
    expect(d.answer({ status: 'failed' })).toMatchObject({ task: { name: ACTIVITY.undoPaymentIntent } });
  });

  it('compensation pauses on durable timers between rounds, intent first, then the reservation', () => {
    const { d, wait } = waiting();
    const timer = wait.task.tasks[1]!;
    expect(d.answer(timer)).toMatchObject({ task: { name: ACTIVITY.undoPaymentIntent } });
    for (const pause of COMPENSATE_PAUSES_SECONDS) {
      const paused = d.fail(new Error('Stripe cancel failed'));
      expect(paused).toMatchObject({ task: { kind: 'timer' } });
      expect((paused as { task: { fireAt: Date } }).task.fireAt.getTime() - start.getTime()).toBe(
        pause * 1000,
      );
      expect(d.answer(undefined)).toMatchObject({ task: { name: ACTIVITY.undoPaymentIntent } });
    }
    expect(d.answer({ outcome: 'undone' })).toMatchObject({ task: { name: ACTIVITY.release } });
    expect(d.answer({ outcome: 'closed', moved: true, released: [] })).toEqual({
      done: true,
      value: { orderId: input.orderId, status: 'expired', reason: 'payment_timeout' },
    });
  });

  it('processing keeps the order open: the reservation is extended and the wait starts again', () => {
    const { d, wait } = waiting();
    d.answer(wait.task.tasks[1]);
    expect(d.answer({ outcome: 'processing' })).toMatchObject({ task: { name: ACTIVITY.extendReservation } });
    expect(d.answer(1)).toMatchObject({ done: false, task: { kind: 'any' } });
  });
});

describe('settings: the reservation outlives the payment window', () => {
  const base = {
    DATABASE_URL: 'postgres://a@h/db',
    AUDIT_DATABASE_URL: 'postgres://a@h/audit',
    REDIS_URL: 'redis://h:6379',
  };
  it('refuses RESERVATION_TTL_SECONDS ≤ payment timeout + retry budget, with a clear message', () => {
    expect(() =>
      parseSettings({ ...base, CHECKOUT_PAYMENT_TIMEOUT_SECONDS: '900', RESERVATION_TTL_SECONDS: '930' }),
    ).toThrow(/RESERVATION_TTL_SECONDS \(930\) must exceed CHECKOUT_PAYMENT_TIMEOUT_SECONDS \(900\)/);
    expect(
      parseSettings({ ...base, CHECKOUT_PAYMENT_TIMEOUT_SECONDS: '900', RESERVATION_TTL_SECONDS: '931' })
        .RESERVATION_TTL_SECONDS,
    ).toBe(931);
  });
});

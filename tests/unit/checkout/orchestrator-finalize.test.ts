import { describe, expect, it } from 'vitest';
import type { OrchestrationContext, Task } from 'durable-functions';
import { FINALIZE_PAUSES_SECONDS, checkoutOrchestrator } from '../../../functions/checkout/orchestrator.js';
import { ACTIVITY, type CheckoutInput } from '../../../shared/services/checkout/checkout-types.js';

/**
 * The orchestrator's decisions, driven step by step: each yielded task is answered by the test (a
 * result, or an error as the durable-functions library throws it when an activity's retries are
 * exhausted). The real library's replay is covered by the host and e2e suites.
 */

type Yielded = { kind: 'activity'; name: string } | { kind: 'timer'; fireAt: Date };

const input: CheckoutInput = {
  orderId: '7a1f2b9e-0000-4000-8000-000000000001',
  tenantId: '7a1f2b9e-0000-4000-8000-000000000002',
  paymentTimeoutSeconds: 900,
};
const start = new Date('2026-11-26T12:00:00Z');

function drive() {
  const df = {
    getInput: () => input,
    currentUtcDateTime: start,
    callActivityWithRetry: (name: string) => ({ kind: 'activity', name }),
    createTimer: (fireAt: Date) => ({ kind: 'timer', fireAt, cancel: () => undefined }),
  };
  const generator = checkoutOrchestrator({ df } as unknown as OrchestrationContext);
  const asYielded = (r: IteratorResult<Task, unknown>) =>
    r.done
      ? { done: true as const, value: r.value }
      : { done: false as const, task: r.value as unknown as Yielded };
  return {
    first: () => asYielded(generator.next()),
    answer: (value: unknown) => asYielded(generator.next(value)),
    fail: (error: Error) => asYielded(generator.throw(error)),
  };
}

/** Runs reserve → create intent → confirm (succeeded) and returns the driver at the first finalize. */
function upToFinalize() {
  const d = drive();
  expect(d.first()).toMatchObject({ task: { name: ACTIVITY.reserve } });
  expect(d.answer({ outcome: 'reserved' })).toMatchObject({ task: { name: ACTIVITY.createIntent } });
  expect(d.answer({ outcome: 'created', paymentIntentId: 'pi_1' })).toMatchObject({
    task: { name: ACTIVITY.confirm },
  });
  expect(d.answer({ outcome: 'succeeded' })).toMatchObject({ task: { name: ACTIVITY.finalize } });
  return d;
}

describe('checkout orchestrator: finalize after the money is taken', () => {
  it('a finalize whose retries are exhausted sleeps on a durable timer and tries again', () => {
    const d = upToFinalize();
    const paused = d.fail(new Error('Activity function checkoutFinalize failed'));
    expect(paused.done).toBe(false);
    expect(paused).toMatchObject({ task: { kind: 'timer' } });
    const fireAt = (paused as { task: { fireAt: Date } }).task.fireAt;
    expect(fireAt.getTime() - start.getTime()).toBe(FINALIZE_PAUSES_SECONDS[0] * 1000);

    expect(d.answer(undefined)).toMatchObject({ task: { name: ACTIVITY.finalize } });
    expect(d.answer({ outcome: 'confirmed' })).toEqual({
      done: true,
      value: { orderId: input.orderId, status: 'confirmed' },
    });
  });

  it('never compensates a charged order: after the last pause it fails, leaving it to the sweeper', () => {
    const d = upToFinalize();
    for (const pause of FINALIZE_PAUSES_SECONDS) {
      const step = d.fail(new Error('finalize failed'));
      expect(step).toMatchObject({ task: { kind: 'timer' } });
      const fireAt = (step as { task: { fireAt: Date } }).task.fireAt;
      expect(fireAt.getTime() - start.getTime()).toBe(pause * 1000);
      expect(d.answer(undefined)).toMatchObject({ task: { name: ACTIVITY.finalize } });
    }
    expect(() => d.fail(new Error('finalize failed for good'))).toThrow('finalize failed for good');
  });

  it('a finalize that refunds (the order closed meanwhile) ends expired', () => {
    const d = upToFinalize();
    expect(d.answer({ outcome: 'refunded' })).toEqual({
      done: true,
      value: { orderId: input.orderId, status: 'expired', reason: 'reservation_expired' },
    });
  });
});

import '../lib/telemetry-start.js';
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import {
  ACTIVITY,
  CHECKOUT_ORCHESTRATION,
  PAYMENT_UPDATED_EVENT,
  type CheckoutInput,
  type CheckoutResult,
  type CompensateInput,
  type CompensateOutcome,
  type ConfirmInput,
  type ConfirmOutcome,
  type CreateIntentOutcome,
  type FinalizeOutcome,
  type PaymentUpdate,
  type ReserveOutcome,
} from '../../shared/services/checkout/checkout-types.js';
import type { FailureReason } from '../../shared/services/orders/order-status.js';

/**
 * Retries for transient failures (Stripe 5xx/429/network/timeouts, database connection loss or
 * serialization failures): 5 attempts, 250 ms doubling up to 5 s. Declines are outcomes, not errors,
 * so they are never retried.
 */
export function transientRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(250, 5);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 5_000;
  return retry;
}

type Step<T> = Generator<Task, T, unknown>;

/**
 * Once the money is taken, finalize must happen. When a whole round of retries fails (a database
 * outage longer than the retry window), the orchestration sleeps on a durable timer and tries another
 * round. After the last pause it gives up and fails; the reservation sweeper then finalizes the
 * charged order once its reservation expires.
 */
export const FINALIZE_PAUSES_SECONDS = [15, 60, 300] as const;

/**
 * Checkout: reserve inventory → create PaymentIntent → confirm → finalize, with compensation on every
 * failure path. Deterministic: no I/O, no clocks but `context.df.currentUtcDateTime`, no randomness;
 * every side effect happens in an activity, and every activity is safe to run twice.
 */
export function* checkoutOrchestrator(context: OrchestrationContext): Step<CheckoutResult> {
  const input = context.df.getInput<CheckoutInput>();
  const retry = transientRetry();
  const call = function* <T>(name: string, payload: unknown): Step<T> {
    return (yield context.df.callActivityWithRetry(name, retry, payload)) as T;
  };
  const result = (status: CheckoutResult['status'], reason?: FailureReason): CheckoutResult => ({
    orderId: input.orderId,
    status,
    ...(reason ? { reason } : {}),
  });

  function* finalize(): Step<CheckoutResult> {
    for (let round = 0; ; round++) {
      try {
        const done = yield* call<FinalizeOutcome>(ACTIVITY.finalize, input);
        return done.outcome === 'confirmed' ? result('confirmed') : result('expired', 'reservation_expired');
      } catch (error) {
        const pause = FINALIZE_PAUSES_SECONDS[round];
        if (pause === undefined) throw error;
        yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + pause * 1000));
      }
    }
  }

  function* compensate(status: CompensateInput['status'], reason: FailureReason): Step<CheckoutResult> {
    const payload: CompensateInput = { ...input, status, reason };
    const undone = yield* call<CompensateOutcome>(ACTIVITY.compensate, payload);
    // The payment succeeded after all (3-D Secure completed as the timer fired): keep the sale.
    if (undone.outcome === 'payment_succeeded') return yield* finalize();
    return result(status, reason);
  }

  // 1. Reserve. If it keeps failing, release whatever may be held and fail the order.
  let reserved: ReserveOutcome;
  try {
    reserved = yield* call<ReserveOutcome>(ACTIVITY.reserve, input);
  } catch {
    return yield* compensate('failed', 'internal_error');
  }
  if (reserved.outcome === 'insufficient') return result('failed', 'insufficient_inventory');
  if (reserved.outcome === 'closed') return result(reserved.status);
  if (reserved.outcome === 'paid') return yield* finalize();

  // 2. Create and confirm the PaymentIntent.
  let confirmed: ConfirmOutcome;
  try {
    const created = yield* call<CreateIntentOutcome>(ACTIVITY.createIntent, input);
    if (created.outcome === 'paid') return yield* finalize();
    if (created.outcome === 'closed') return result(created.status);
    if (created.outcome === 'rejected') return yield* compensate('failed', 'payment_error');
    const confirmInput: ConfirmInput = { ...input, paymentIntentId: created.paymentIntentId };
    confirmed = yield* call<ConfirmOutcome>(ACTIVITY.confirm, confirmInput);
  } catch {
    // Stripe stayed unavailable through every retry.
    return yield* compensate('failed', 'payment_error');
  }

  switch (confirmed.outcome) {
    case 'succeeded':
      return yield* finalize();
    case 'declined':
      return yield* compensate('failed', 'payment_declined');
    case 'rejected':
      return yield* compensate('failed', 'payment_error');
    case 'closed':
      return result(confirmed.status);
    case 'requires_action':
      break;
  }

  // 3. The customer must authenticate (3-D Secure): the webhook raises PaymentUpdated; a durable timer
  //    bounds the wait. The deadline derives from the orchestration's replay-safe clock.
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + input.paymentTimeoutSeconds * 1000);
  const update = context.df.waitForExternalEvent(PAYMENT_UPDATED_EVENT);
  const timer = context.df.createTimer(deadline);
  const winner = yield context.df.Task.any([update, timer]);
  if (winner !== update) return yield* compensate('expired', 'payment_timeout');
  timer.cancel();
  const status = (update.result as PaymentUpdate | undefined)?.status;
  if (status === 'succeeded') return yield* finalize();
  return yield* compensate('failed', status === 'canceled' ? 'payment_canceled' : 'payment_failed');
}

df.app.orchestration(CHECKOUT_ORCHESTRATION, checkoutOrchestrator);

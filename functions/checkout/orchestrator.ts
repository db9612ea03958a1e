import '../lib/telemetry-start.js';
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import type { CloseOutcome } from '../../shared/services/checkout/close-order.js';
import {
  ACTIVITY,
  CHECKOUT_ORCHESTRATION,
  PAYMENT_UPDATED_EVENT,
  type CheckoutInput,
  type CheckoutResult,
  type CompensateInput,
  type ConfirmInput,
  type ConfirmOutcome,
  type CreateIntentOutcome,
  type FinalizeOutcome,
  type PaymentCheck,
  type PaymentUpdate,
  type ReserveOutcome,
  type UndoOutcome,
} from '../../shared/services/checkout/checkout-types.js';
import type { FailureReason } from '../../shared/services/orders/order-status.js';

/**
 * Retries for transient failures (Stripe 5xx/429/network/timeouts, database connection loss or
 * serialization failures): 5 attempts, 250 ms doubling up to 5 s — 3.75 s of back-off per round.
 * Declines are outcomes, not errors, so they are never retried. CHECKOUT_RETRY_BUDGET_SECONDS
 * (shared/config/settings.ts) counts three such rounds; keep the two in step.
 */
export function transientRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(250, 5);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 5_000;
  return retry;
}

type Step<T> = Generator<Task, T, unknown>;

/** Payment statuses that say the customer or Stripe may still complete the payment. */
const STILL_OPEN = new Set<PaymentCheck['status']>([
  'requires_action',
  'requires_confirmation',
  'processing',
]);

/**
 * Once the money is taken, finalize must happen. When a whole round of retries fails (a database
 * outage longer than the retry window), the orchestration sleeps on a durable timer and tries another
 * round. After the last pause it gives up and fails; the reservation sweeper then finalizes the
 * charged order once its reservation expires.
 */
export const FINALIZE_PAUSES_SECONDS = [15, 60, 300] as const;

/**
 * Compensation never leaves money held, so it gets the same rounds: a Stripe outage that outlasts one
 * round of retries does not fail the instance with the PaymentIntent still open. After the last pause
 * it fails, with the order still open: the sweeper runs the same compensations when the reservation
 * expires, and it never releases stock before the intent is cancelled or refunded.
 */
export const COMPENSATE_PAUSES_SECONDS = [15, 60, 300] as const;

/**
 * Checkout as a saga: reserve → create PaymentIntent → confirm → (wait) → finalize. Each step that ran
 * leaves its compensation on a stack (reserve ↔ release, create intent ↔ cancel-or-refund); a failure
 * unwinds the stack top-down. Deterministic: no I/O, no clocks but `context.df.currentUtcDateTime`, no
 * randomness; every side effect happens in an activity, and every activity is safe to run twice.
 * PaymentUpdated events are hints: finalize and the compensations check the ledger or Stripe.
 */
export function* checkoutOrchestrator(context: OrchestrationContext): Step<CheckoutResult> {
  const input = context.df.getInput<CheckoutInput>();
  const retry = transientRetry();
  const undo: string[] = [];
  const call = function* <T>(name: string, payload: unknown): Step<T> {
    return (yield context.df.callActivityWithRetry(name, retry, payload)) as T;
  };
  const after = (seconds: number): Date => new Date(context.df.currentUtcDateTime.getTime() + seconds * 1000);
  const result = (status: CheckoutResult['status'], reason?: FailureReason): CheckoutResult => ({
    orderId: input.orderId,
    status,
    ...(reason ? { reason } : {}),
  });

  /** One activity, retried in rounds with a durable pause between them; throws after the last. */
  function* inRounds<T>(name: string, payload: unknown, pauses: readonly number[]): Step<T> {
    for (let round = 0; ; round++) {
      try {
        return yield* call<T>(name, payload);
      } catch (error) {
        const pause = pauses[round];
        if (pause === undefined) throw error;
        yield context.df.createTimer(after(pause));
      }
    }
  }

  /** The sale completes (or is refunded); undefined when no succeeded payment exists (yet). */
  function* finalize(): Step<CheckoutResult | undefined> {
    const done = yield* inRounds<FinalizeOutcome>(ACTIVITY.finalize, input, FINALIZE_PAUSES_SECONDS);
    if (done.outcome === 'confirmed') return result('confirmed');
    if (done.outcome === 'refunded')
      return result(done.status ?? 'expired', done.reason ?? 'reservation_expired');
    return undefined;
  }

  /**
   * Unwinds the compensation stack. Undefined when the payment is still `processing` (the reservation
   * was extended; the caller waits for Stripe to settle it and then tries again).
   */
  function* compensate(
    status: CompensateInput['status'],
    reason: FailureReason,
  ): Step<CheckoutResult | undefined> {
    const payload: CompensateInput = { ...input, status, reason };
    while (undo.length > 0) {
      const activity = undo[undo.length - 1]!;
      const out = yield* inRounds<UndoOutcome | CloseOutcome>(activity, payload, COMPENSATE_PAUSES_SECONDS);
      if (out.outcome === 'payment_succeeded') {
        // Paid after all (3-D Secure completed as the timer fired): keep the sale.
        const done = yield* finalize();
        if (done) return done;
        throw new Error(`order ${input.orderId}: payment reported succeeded, finalize found none`);
      }
      if (out.outcome === 'processing') {
        yield* call<number>(ACTIVITY.extendReservation, input);
        return undefined;
      }
      undo.pop();
    }
    return result(status, reason);
  }

  /** Waits for the payment's outcome (3-D Secure, or `processing` settling), bounded by durable timers. */
  function* awaitPayment(): Step<CheckoutResult> {
    // Fixed per window: events (true, stale or forged) do not move it; only `processing` opens a new one.
    let deadline = after(input.paymentTimeoutSeconds);
    for (;;) {
      const update = context.df.waitForExternalEvent(PAYMENT_UPDATED_EVENT);
      const timer = context.df.createTimer(deadline);
      const winner = yield context.df.Task.any([update, timer]);
      let ended: CheckoutResult | undefined;
      if (winner === update) {
        timer.cancel();
        const status = (update.result as PaymentUpdate | undefined)?.status;
        if (status === 'succeeded') {
          ended = yield* finalize();
          // Not paid after all (a forged or stale event): keep waiting.
          if (!ended) continue;
        } else {
          // A failure is acted on only once the ledger or Stripe shows it: a forged or stale event about
          // an intent still open (the customer may yet authenticate) changes nothing.
          const now = yield* call<PaymentCheck>(ACTIVITY.checkPayment, input);
          if (now.status === 'succeeded') ended = yield* finalize();
          else if (STILL_OPEN.has(now.status)) continue;
          else
            ended = yield* compensate(
              'failed',
              status === 'canceled' ? 'payment_canceled' : 'payment_failed',
            );
          if (!ended && now.status === 'succeeded') continue;
        }
      } else {
        ended = yield* compensate('expired', 'payment_timeout');
      }
      if (ended) return ended;
      deadline = after(input.paymentTimeoutSeconds);
    }
  }

  function* end(status: CompensateInput['status'], reason: FailureReason): Step<CheckoutResult> {
    return (yield* compensate(status, reason)) ?? (yield* awaitPayment());
  }

  function* finalizeOrWait(): Step<CheckoutResult> {
    return (yield* finalize()) ?? (yield* awaitPayment());
  }

  // 1. Reserve. If it keeps failing, release whatever may be held and fail the order.
  undo.push(ACTIVITY.release);
  let reserved: ReserveOutcome;
  try {
    reserved = yield* call<ReserveOutcome>(ACTIVITY.reserve, input);
  } catch {
    return yield* end('failed', 'internal_error');
  }
  if (reserved.outcome === 'insufficient') return result('failed', 'insufficient_inventory');
  if (reserved.outcome === 'closed') return result(reserved.status);
  if (reserved.outcome === 'paid') return yield* finalizeOrWait();

  // 2. Create and confirm the PaymentIntent. The undo goes on the stack first: a create that reached
  //    Stripe but failed after is undone too (the undo is a no-op when no intent was recorded).
  undo.push(ACTIVITY.undoPaymentIntent);
  let confirmed: ConfirmOutcome;
  try {
    const created = yield* call<CreateIntentOutcome>(ACTIVITY.createIntent, input);
    if (created.outcome === 'paid') return yield* finalizeOrWait();
    if (created.outcome === 'closed') return result(created.status);
    if (created.outcome === 'rejected') return yield* end('failed', 'payment_error');
    const confirmInput: ConfirmInput = { ...input, paymentIntentId: created.paymentIntentId };
    confirmed = yield* call<ConfirmOutcome>(ACTIVITY.confirm, confirmInput);
  } catch {
    // Stripe stayed unavailable through every retry.
    return yield* end('failed', 'payment_error');
  }

  switch (confirmed.outcome) {
    case 'succeeded':
      return yield* finalizeOrWait();
    case 'declined':
      return yield* end('failed', 'payment_declined');
    case 'rejected':
      return yield* end('failed', 'payment_error');
    case 'closed':
      return result(confirmed.status);
    case 'requires_action':
    case 'processing':
      // 3. The customer authenticates (3-D Secure) or Stripe settles the payment; the webhook raises
      //    PaymentUpdated, a durable timer bounds the wait.
      return yield* awaitPayment();
  }
}

df.app.orchestration(CHECKOUT_ORCHESTRATION, checkoutOrchestrator);

import { randomUUID } from 'node:crypto';
import { TransientPaymentError } from './payment-errors.js';
import {
  idempotencyKey,
  type ConfirmResult,
  type IntentView,
  type MoneyStep,
  type PaymentGateway,
} from './payment-gateway.js';

/**
 * Stripe operations that stay correct when Stripe answers 5xx. Stripe API v1 saves a 5xx under the
 * idempotency key once the endpoint began executing and replays it for that key for 24 h
 * (docs.stripe.com/idempotency), so retrying with the step's fixed key can never get past it, and the
 * 5xx does not say whether the operation happened. So after a transient failure we read Stripe's state
 * (retrieve the intent, list its refunds) and repeat the operation under a fresh key only if that state
 * shows it is still needed. Repeating is safe because each operation is bounded by Stripe itself: an
 * intent charges at most once, a cancelled intent stays cancelled, and refunds can never exceed what
 * was captured (`amount_too_large` / `charge_already_refunded`).
 */

/** A key no earlier attempt used: only after the state read showed the operation is still needed. */
export function freshKey(orderId: string, step: MoneyStep): string {
  return `${idempotencyKey(orderId, step)}:${randomUUID()}`;
}

function isTransient(error: unknown): error is TransientPaymentError {
  return error instanceof TransientPaymentError;
}

/** Statuses from which Stripe still lets us cancel (docs.stripe.com/api/payment_intents/cancel). */
const CANCELABLE = new Set([
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
  'requires_capture',
]);

/** A confirmation's result as the intent shows it, when the intent shows one. */
function confirmedAs(intent: IntentView): ConfirmResult | undefined {
  switch (intent.status) {
    case 'succeeded':
      return { kind: 'succeeded', intent };
    case 'requires_action':
      return { kind: 'requires_action', intent };
    case 'processing':
    case 'requires_capture':
      return { kind: 'processing', intent };
    case 'canceled':
      return { kind: 'rejected', code: 'payment_intent_canceled' };
    case 'requires_payment_method':
      return intent.lastErrorCode ? { kind: 'declined', code: intent.lastErrorCode } : undefined;
    default:
      return undefined;
  }
}

/** Confirms the intent; after a 5xx, what the intent shows, or one more confirmation under a fresh key. */
export async function confirmIntent(
  gateway: PaymentGateway,
  orderId: string,
  intentId: string,
  paymentMethodId: string,
): Promise<ConfirmResult> {
  try {
    return await gateway.confirmIntent(orderId, intentId, paymentMethodId);
  } catch (error) {
    if (!isTransient(error)) throw error;
    const intent = await gateway.retrieveIntent(intentId);
    return (
      confirmedAs(intent) ??
      (await gateway.confirmIntent(orderId, intentId, paymentMethodId, freshKey(orderId, 'confirm')))
    );
  }
}

export type UndoResult =
  /** No money can be taken any more and none is held: cancelled, or refunded in full. */
  | { kind: 'undone'; intent: IntentView; refunded: boolean }
  /** Stripe refuses to cancel while the payment settles; it may still succeed or fail. */
  | { kind: 'processing'; intent: IntentView }
  /** The payment succeeded and the caller asked not to refund it (it will finalize instead). */
  | { kind: 'succeeded'; intent: IntentView };

/**
 * The undo of "create PaymentIntent": cancel it, or — if it already succeeded and `refund` is set —
 * refund what is left of it. Never returns while the intent is still able to take money and not
 * cancelled; a Stripe outage throws TransientPaymentError (the caller pauses and tries again).
 */
export async function cancelOrRefund(
  gateway: PaymentGateway,
  orderId: string,
  intentId: string,
  /** `key`: the cancel's first idempotency key (a refund, if any, goes under the order's own). */
  options: { refund: boolean; key?: string },
): Promise<UndoResult> {
  let intent: IntentView;
  try {
    intent = await gateway.cancelIntent(orderId, intentId, options.key);
  } catch (error) {
    if (!isTransient(error)) throw error;
    intent = await gateway.retrieveIntent(intentId);
    if (CANCELABLE.has(intent.status)) {
      intent = await gateway.cancelIntent(orderId, intentId, freshKey(orderId, 'cancel'));
    }
  }
  switch (intent.status) {
    case 'canceled':
      return { kind: 'undone', intent, refunded: false };
    case 'processing':
      return { kind: 'processing', intent };
    case 'succeeded':
      if (!options.refund) return { kind: 'succeeded', intent };
      await refundRemainder(gateway, orderId, intent);
      return { kind: 'undone', intent, refunded: true };
    default:
      // Still open after a cancel Stripe accepted: nothing we can trust yet.
      throw new TransientPaymentError(
        `intent ${intentId} still ${intent.status} after cancel`,
        intent.status,
      );
  }
}

/**
 * Refunds whatever of a succeeded intent is not refunded yet. The first attempt asks for "the rest" under
 * the step's fixed key (or `first`'s amount under `first`'s key); after a 5xx, the intent's refunds are
 * listed and only a remainder is refunded, under a fresh key. A key still in use by another request
 * (409) is not such a failure: that request's refund may not be listed yet, so it is left to finish
 * and the caller tries again later. Returns false when Stripe says nothing was left to refund.
 */
export async function refundRemainder(
  gateway: PaymentGateway,
  orderId: string,
  intent: Pick<IntentView, 'id' | 'amountReceived'>,
  first?: { amount: number; key: string },
): Promise<boolean> {
  try {
    return await gateway.refundIntent(orderId, intent.id, first);
  } catch (error) {
    if (!isTransient(error) || error.code === 'idempotency_key_in_use') throw error;
    const remaining = intent.amountReceived - (await gateway.refundedAmount(intent.id));
    if (remaining <= 0) return false;
    return gateway.refundIntent(orderId, intent.id, { amount: remaining, key: freshKey(orderId, 'refund') });
  }
}

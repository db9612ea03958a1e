import type { PaymentStatus } from '../../models/payment.js';

/**
 * Payment state only moves forward. Webhooks arrive late, twice or out of order; a status may replace
 * another only if its rank is higher, so `succeeded` followed by a stale `requires_action` stays
 * `succeeded`. `failed` records that the latest attempt failed (it replaces requires_action and
 * processing), but it is NOT final: the intent is back in `requires_payment_method` and the customer may
 * still confirm it with the client secret (docs.stripe.com/payments/paymentintents/lifecycle), so
 * `succeeded` ranks above it, and a refusal to cancel (`processing`) is read from Stripe, not from here.
 * `failed` and `canceled` share a rank (a declined payment that we then cancel stays `failed`, which
 * says why); `succeeded` ranks above everything but `refunded`: money taken is never hidden by a stale
 * or forged outcome, and a success after a failure is recorded.
 */
export const PAYMENT_STATUS_RANK: Record<PaymentStatus, number> = {
  pending: 0,
  requires_payment_method: 1,
  requires_confirmation: 2,
  requires_action: 3,
  processing: 4,
  failed: 6,
  canceled: 6,
  succeeded: 7,
  refunded: 8,
};

/** Statuses after which the intent can never take money again (or already gave it back). */
export const TERMINAL_PAYMENT_STATUSES: readonly PaymentStatus[] = ['succeeded', 'canceled', 'refunded'];

/** The statuses a payment may be in for `to` to replace it. */
export function paymentPredecessors(to: PaymentStatus): PaymentStatus[] {
  const rank = PAYMENT_STATUS_RANK[to];
  return (Object.keys(PAYMENT_STATUS_RANK) as PaymentStatus[]).filter((s) => PAYMENT_STATUS_RANK[s] < rank);
}

export function isTerminalPayment(status: PaymentStatus): boolean {
  return TERMINAL_PAYMENT_STATUSES.includes(status);
}

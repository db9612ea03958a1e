import type { PaymentStatus } from '../../models/payment.js';

/**
 * Payment state only moves forward. Webhooks arrive late, twice or out of order; a status may replace
 * another only if its rank is higher, so `succeeded` followed by a stale `requires_action` stays
 * `succeeded`. The three outcomes share a rank: once one is recorded the others cannot overwrite it
 * (a declined payment that we then cancel stays `failed`, which says why). Only a refund follows success.
 */
export const PAYMENT_STATUS_RANK: Record<PaymentStatus, number> = {
  pending: 0,
  requires_payment_method: 1,
  requires_confirmation: 2,
  requires_action: 3,
  processing: 4,
  succeeded: 5,
  failed: 5,
  canceled: 5,
  refunded: 6,
};

export const TERMINAL_PAYMENT_STATUSES: readonly PaymentStatus[] = [
  'succeeded',
  'failed',
  'canceled',
  'refunded',
];

/** The statuses a payment may be in for `to` to replace it. */
export function paymentPredecessors(to: PaymentStatus): PaymentStatus[] {
  const rank = PAYMENT_STATUS_RANK[to];
  return (Object.keys(PAYMENT_STATUS_RANK) as PaymentStatus[]).filter((s) => PAYMENT_STATUS_RANK[s] < rank);
}

export function isTerminalPayment(status: PaymentStatus): boolean {
  return TERMINAL_PAYMENT_STATUSES.includes(status);
}

import { randomUUID } from 'node:crypto';
import { TransientPaymentError } from './payment-errors.js';
import type { PaymentGateway, RefundView } from './payment-gateway.js';

/**
 * One refund row's money movement at Stripe. The first attempt's idempotency key is derived from our
 * refund id, so a repeat (the admin's retry with the same Idempotency-Key, a second cancel, a re-drive)
 * replays Stripe's saved answer instead of refunding twice. Stripe saves a 5xx under the key too
 * (docs.stripe.com/idempotency; GUIDE §4), so after one we list the intent's refunds
 * (docs.stripe.com/api/refunds/list) and look for ours by `metadata.refundId` before trying once more
 * under a fresh key. Refunds are bounded by Stripe itself (`amount_too_large`), so even a wrong guess
 * cannot refund more than was captured.
 */
export type RefundOutcome =
  | { kind: 'succeeded'; stripeRefundId: string | null }
  /** Stripe refused for good: nothing was refunded for this row. */
  | { kind: 'failed'; code: string }
  /** Stripe is unavailable: the row stays pending; a repeat or a re-drive finishes it. */
  | { kind: 'pending' };

export const refundKey = (refundId: string): string => `refund:${refundId}`;

const LIVE = (refund: RefundView): boolean => refund.status !== 'failed' && refund.status !== 'canceled';

export async function executeRefund(
  gateway: PaymentGateway,
  intentId: string,
  refundId: string,
  amount: number,
  /** What our ledger promises back in total (this row included) and what was captured. */
  books: { promisedTotal: number; captured: number },
): Promise<RefundOutcome> {
  let result;
  try {
    result = await gateway.createRefund(intentId, amount, refundId, refundKey(refundId));
  } catch (error) {
    if (!(error instanceof TransientPaymentError)) throw error;
    try {
      const ours = (await gateway.listRefunds(intentId)).find((r) => r.refundId === refundId && LIVE(r));
      if (ours) return { kind: 'succeeded', stripeRefundId: ours.id };
      result = await gateway.createRefund(
        intentId,
        amount,
        refundId,
        `${refundKey(refundId)}:${randomUUID()}`,
      );
    } catch (again) {
      if (again instanceof TransientPaymentError) return { kind: 'pending' };
      throw again;
    }
  }
  if (result.kind === 'created') return { kind: 'succeeded', stripeRefundId: result.refund.id };
  if (result.code === 'charge_already_refunded' || result.code === 'amount_too_large') {
    // Someone else refunded meanwhile without naming our row: the checkout's own compensation (finalize
    // or the sweeper refund a closed order's remainder) or the dashboard. Only when both Stripe and our
    // ledger say "everything" is this row's money known to be back with the customer; otherwise the row
    // fails (its promise is given back) and the other refund is counted by its charge.refunded webhook.
    try {
      const refunded = (await gateway.listRefunds(intentId)).filter(LIVE).reduce((s, r) => s + r.amount, 0);
      if (refunded >= books.captured && books.promisedTotal >= books.captured) {
        return { kind: 'succeeded', stripeRefundId: null };
      }
    } catch (error) {
      if (error instanceof TransientPaymentError) return { kind: 'pending' };
      throw error;
    }
  }
  return { kind: 'failed', code: result.code };
}

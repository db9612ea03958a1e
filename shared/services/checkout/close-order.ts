import { trackEvent } from '../../telemetry/index.js';
import { nudgeAuditRelay } from '../audit/nudge.js';
import { invalidateProductStock } from '../catalog/catalog-cache.js';
import { InventoryService } from '../inventory/inventory-service.js';
import { OrderLifecycle } from '../orders/order-lifecycle.js';
import { isSoldOrder, type FailureReason } from '../orders/order-status.js';
import { AMOUNT_MISMATCH } from '../payments/payment-ledger.js';
import type { CheckoutInput } from './checkout-types.js';
import {
  committedOrder,
  lockOrder,
  paymentOf,
  recordCheckoutEnd,
  unit,
  type StepDeps,
} from './steps/step-context.js';

export type CloseOutcome =
  | { outcome: 'closed'; moved: boolean; released: string[] }
  /** The money is taken: the order must be finalized, not closed. */
  | { outcome: 'payment_succeeded' }
  /** Stripe is still settling the payment: the order stays open (and its reservation held). */
  | { outcome: 'processing' };

const PAYMENT_REASONS = new Set<FailureReason>([
  'payment_declined',
  'payment_failed',
  'payment_canceled',
  'payment_timeout',
  'payment_error',
]);

/**
 * The one way an open order ends without a sale: close it as failed/expired and put its stock back on
 * sale. Used by the orchestration (as the reservation's compensation), the reservation sweeper and
 * reconciliation. Call it only once the PaymentIntent can no longer take money (cancelled or refunded:
 * see cancelOrRefund). It takes the order's row lock and, under it, the payment's, and re-reads the
 * payment there: a success or a settlement in progress recorded a moment ago (a webhook) wins, and
 * the order is left for finalize. Safe to run twice and concurrently with any other step.
 */
export async function closeOrder(
  deps: StepDeps,
  input: Pick<CheckoutInput, 'orderId' | 'tenantId'>,
  status: 'failed' | 'expired',
  reason: FailureReason,
): Promise<CloseOutcome> {
  const { orderId, tenantId } = input;
  const closed = await unit(deps, 'write', input, async (ctx) => {
    const now = await lockOrder(ctx, orderId);
    if (!now) throw new Error(`order ${orderId} not found`);
    if (now === 'paid' || isSoldOrder(now)) return { outcome: 'payment_succeeded' as const };
    const payment = await paymentOf(ctx, orderId, true);
    if (payment?.status === 'succeeded' && payment.lastError !== AMOUNT_MISMATCH) {
      return { outcome: 'payment_succeeded' as const };
    }
    if (payment?.status === 'processing') return { outcome: 'processing' as const };
    const moved = await new OrderLifecycle(ctx).move(orderId, status, reason);
    const released = await new InventoryService(ctx).release(orderId);
    return { outcome: 'closed' as const, moved, released, code: payment?.lastError ?? payment?.status };
  });
  if (closed.outcome !== 'closed') return closed;

  if (closed.released.length > 0) await invalidateProductStock(tenantId, closed.released, deps.log);
  if (closed.moved) {
    if (PAYMENT_REASONS.has(reason)) {
      // The infrastructure's "failed payments" alert (→ finance) keys on exactly this event name.
      trackEvent('PaymentFailed', {
        tenantId,
        orderId,
        reason,
        ...(closed.code ? { code: closed.code } : {}),
      });
    }
    recordCheckoutEnd(await committedOrder(input), status);
  }
  nudgeAuditRelay(deps.log);
  return { outcome: 'closed', moved: closed.moved, released: closed.released };
}

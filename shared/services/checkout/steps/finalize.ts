import { OrderRepository } from '../../../repositories/order-repository.js';
import { nudgeAuditRelay } from '../../audit/nudge.js';
import { CartService } from '../../cart/cart-service.js';
import { InventoryService } from '../../inventory/inventory-service.js';
import { OrderLifecycle } from '../../orders/order-lifecycle.js';
import { nudgeOrderEventRelay, stableEventId, writeOrderEvent } from '../../orders/order-events.js';
import { TERMINAL_ORDER_STATUSES, isSoldOrder } from '../../orders/order-status.js';
import { paymentStatusOf } from '../../payments/payment-gateway.js';
import { AMOUNT_MISMATCH, PaymentLedger } from '../../payments/payment-ledger.js';
import { closeOrder } from '../close-order.js';
import type { CheckoutInput, FinalizeOutcome } from '../checkout-types.js';
import { undoPaymentIntent } from './payment-intent.js';
import {
  committedOrder,
  paymentOf,
  recordCheckoutEnd,
  unit,
  type PaymentState,
  type StepDeps,
} from './step-context.js';

/**
 * The payment as Stripe stated it: the ledger's `succeeded` was only ever written from a confirm or
 * retrieve answer or a signed webhook (PaymentLedger.recordSucceeded). Anything else is checked with
 * Stripe now, so an orchestration event — which anyone holding the durable runtime API can raise — is
 * never taken at its word.
 */
export async function verifiedPayment(
  deps: StepDeps,
  input: CheckoutInput,
): Promise<PaymentState | undefined> {
  const payment = await unit(deps, 'read', input, (ctx) => paymentOf(ctx, input.orderId));
  if (!payment || payment.status === 'succeeded' || !payment.paymentIntentId) return payment;
  if (payment.status === 'canceled' || payment.status === 'refunded') return payment;
  const intent = await deps.gateway().retrieveIntent(payment.paymentIntentId);
  return unit(deps, 'autocommit', input, async (ctx) => {
    const ledger = new PaymentLedger(ctx);
    if (intent.status === 'succeeded') await ledger.recordSucceeded(input.orderId, intent, 'retrieve');
    else await ledger.advance(input.orderId, paymentStatusOf(intent), { source: 'retrieve' });
    return paymentOf(ctx, input.orderId);
  });
}

/**
 * Step 4 — finalize (no compensation: the money is taken, so the sale completes or is refunded).
 * Only for a payment Stripe reported succeeded, for the order's amount and currency. In one transaction
 * the order goes paid → confirmed, its reservations are committed and the bought lines leave the cart;
 * and `order.confirmed` is written to the order-events outbox. If the order closed meanwhile, or Stripe's amount or currency
 * differ from the order's, the payment is refunded instead.
 */
export async function finalizeOrder(deps: StepDeps, input: CheckoutInput): Promise<FinalizeOutcome> {
  const payment = await verifiedPayment(deps, input);
  if (payment?.status === 'refunded') {
    // A re-run after the refund (or a refund made outside the app): report what happened.
    return isSoldOrder((await committedOrder(input)).status)
      ? { outcome: 'confirmed' }
      : { outcome: 'refunded' };
  }
  if (payment?.status !== 'succeeded') return { outcome: 'not_paid' };
  if (payment.lastError === AMOUNT_MISMATCH) {
    const undo = { ...input, status: 'failed' as const, reason: 'payment_error' as const, refund: true };
    await undoPaymentIntent(deps, undo);
    await closeOrder(deps, input, 'failed', 'payment_error');
    return { outcome: 'refunded', status: 'failed', reason: 'payment_error' };
  }

  const result = await unit(deps, 'write', input, async (ctx) => {
    const lifecycle = new OrderLifecycle(ctx);
    // Locks the order row first, as closeOrder and the sweeper do, so they can never interleave.
    const paid = await lifecycle.move(input.orderId, 'paid');
    const found = await new OrderRepository(ctx).findWithLines(input.orderId);
    if (!found) throw new Error(`order ${input.orderId} not found`);
    const { order, lines } = found;
    if (!paid && order.status !== 'paid') {
      if (isSoldOrder(order.status)) return { kind: 'already' as const, order, lines };
      if (TERMINAL_ORDER_STATUSES.includes(order.status)) return { kind: 'closed' as const, order };
      // Not yet awaiting payment: finalize was called out of order. Fail the attempt, refund nothing.
      throw new Error(`order ${order.id} cannot be finalized from ${order.status}`);
    }
    await new InventoryService(ctx).commit(input.orderId);
    await new CartService(ctx, order.userId).removeOrdered(lines);
    await lifecycle.move(input.orderId, 'confirmed');
    // The event commits with the confirmation (transactional outbox); the relay sends it after commit.
    await writeOrderEvent(ctx, {
      type: 'order.confirmed',
      orderId: order.id,
      eventId: stableEventId(order.id, 'order.confirmed'),
      data: {
        userId: order.userId,
        totalCents: order.totalCents,
        currency: order.currency,
        lines: lines.map((line) => ({ productId: line.productId, quantity: line.quantity })),
      },
    });
    return { kind: 'confirmed' as const, order, lines };
  });

  if (result.kind === 'closed') {
    // Paid after it closed (the sweeper expired it, or it failed): the customer gets the money back.
    await undoPaymentIntent(deps, {
      ...input,
      status: 'expired',
      reason: 'reservation_expired',
      refund: true,
    });
    return { outcome: 'refunded' };
  }
  nudgeAuditRelay(deps.log);
  if (result.kind === 'confirmed') recordCheckoutEnd(result.order, 'confirmed');
  nudgeOrderEventRelay(deps.log);
  return { outcome: 'confirmed' };
}

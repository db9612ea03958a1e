import { ConflictException, NotFoundException } from '../../errors/index.js';
import type { OrderStatus } from '../../models/order.js';
import { OrderRepository } from '../../repositories/order-repository.js';
import { RefundRepository, type RefundRecord } from '../../repositories/refund-repository.js';
import { isUuid, newId } from '../../utils/ids.js';
import { invalidateProductStock } from '../catalog/catalog-cache.js';
import { paymentOf, type StepDeps } from '../checkout/steps/step-context.js';
import { undoPaymentIntent } from '../checkout/steps/payment-intent.js';
import type { DomainContext } from '../context.js';
import { InventoryService } from '../inventory/inventory-service.js';
import { getMessageSender } from '../../messaging/index.js';
import { TransientPaymentError } from '../payments/payment-errors.js';
import { StripePaymentGateway, type PaymentGateway } from '../payments/payment-gateway.js';
import { stableEventId, writeOrderEvent } from './order-events.js';
import { OrderLifecycle } from './order-lifecycle.js';
import { isOpenOrder } from './order-status.js';
import { inTransaction, RefundService } from './refund-service.js';

export class OrderNotCancellableException extends ConflictException {
  override readonly type = 'order-not-cancellable';
  override readonly title = 'Order cannot be cancelled';
  constructor(status: string, why = `a ${status} order cannot be cancelled`) {
    super(`This order is ${status}: ${why}.`);
    this.extensions.orderStatus = status;
  }
}

export interface CancelRequest {
  reason: string;
  /** Put the bought units back on sale (customers' cancellations always do). */
  restock: boolean;
  /** Set for a customer: only their own order is visible. */
  ownerId?: string;
}

export type CancelOutcome =
  /** Cancelled before payment: the checkout must stop (the caller tells its orchestration). */
  | { kind: 'open'; orderId: string }
  /** Cancelled after payment: refunded in full. */
  | { kind: 'paid'; orderId: string }
  /** Already cancelled: the same answer again (a pending refund or undo is driven once more). */
  | { kind: 'already'; orderId: string };

/**
 * Cancellation (API.md, ADR 0060). In one transaction under the order's row lock, then the payment's:
 * - an open order (before payment) becomes `cancelled` and its reservation is released at once; after
 *   the commit its PaymentIntent is cancelled — or refunded, if it succeeded meanwhile — through the
 *   checkout's own compensation (undoPaymentIntent, the same idempotency keys as the saga, so a racing
 *   orchestration shares Stripe's answers). Every later checkout step reads the order closed: finalize
 *   refunds a payment that lands after, and the sweeper refunds any closed order whose payment
 *   succeeded. A payment Stripe is still settling (`processing`) cannot be cancelled: 409, try later.
 * - a confirmed order becomes `cancelled`, what is left to refund is promised by a refund row (like
 *   an admin's refund, one conditional UPDATE) and the sold units go back on sale; the refund is sent
 *   after the commit.
 * Both write `order.cancelled` to the outbox. Shipped, refunded, failed and expired orders: 409.
 */
export class CancelService {
  constructor(
    private readonly ctx: DomainContext,
    private readonly gateway: () => PaymentGateway = () => new StripePaymentGateway(),
  ) {}

  async cancel(orderId: string, request: CancelRequest): Promise<CancelOutcome> {
    const decided = await inTransaction(this.ctx, (tx) => this.decide(tx, orderId, request));
    if (decided.released.length > 0) {
      await invalidateProductStock(this.ctx.tenantId, decided.released, this.ctx.log);
    }
    // A cancellation after payment refunds through its refund row; before, through the intent's undo.
    if (decided.kind === 'open' || (decided.kind === 'already' && decided.pending.length === 0)) {
      await this.undoIntent(orderId);
    }
    for (const refund of decided.pending) await new RefundService(this.ctx, this.gateway).drive(refund);
    return { kind: decided.kind, orderId };
  }

  private async decide(
    tx: DomainContext,
    orderId: string,
    request: CancelRequest,
  ): Promise<{ kind: CancelOutcome['kind']; released: string[]; pending: RefundRecord[] }> {
    const status = isUuid(orderId) ? await lockOwnOrder(tx, orderId, request.ownerId) : undefined;
    if (!status) throw new NotFoundException('Order not found.');
    const refunds = new RefundRepository(tx);
    if (status === 'cancelled') {
      return { kind: 'already', released: [], pending: await refunds.pendingOf(orderId) };
    }
    if (status === 'shipped') throw new OrderNotCancellableException(status, 'it has shipped');
    if (status !== 'confirmed' && !isOpenOrder(status)) throw new OrderNotCancellableException(status);

    const lifecycle = new OrderLifecycle(tx);
    let released: string[] = [];
    let pending: RefundRecord[] = [];
    if (status === 'confirmed') {
      const payment = await refunds.lockPayment(orderId);
      const remaining = payment ? payment.amountCents - payment.refundedCents : 0;
      if (payment && remaining > 0) {
        if ((await refunds.reserve(orderId, remaining)) === null) throw new Error('refund reserve failed');
        const refund = await refunds.insert({
          id: newId(),
          orderId,
          amountCents: remaining,
          reason: request.reason,
          status: 'pending',
          source: 'cancel',
        });
        if (!refund) throw new Error(`order ${orderId}: cancel refund not inserted`);
        pending = [refund];
      }
      if (request.restock) released = await this.restockAll(tx, orderId);
    } else {
      const payment = await paymentOf(tx, orderId, true);
      if (payment?.status === 'processing') {
        throw new OrderNotCancellableException(status, 'its payment is still settling; try again shortly');
      }
      // Whoever cancels names the cause in the stock ledger's release rows (see migration 0006).
      await tx.em.execute(`select set_config('app.stock_cause', 'cancelled', true)`);
      released = await new InventoryService(tx).release(orderId);
    }
    if (!(await lifecycle.move(orderId, 'cancelled'))) {
      throw new Error(`order ${orderId}: cancel transition from ${status} did not apply`);
    }
    await refunds.setCancelReason(orderId, request.reason);
    await writeOrderEvent(tx, {
      type: 'order.cancelled',
      orderId,
      eventId: stableEventId(orderId, 'order.cancelled'),
      data: {
        reason: request.reason,
        refundCents: pending[0]?.amountCents ?? 0,
        paid: status === 'confirmed',
      },
    });
    return { kind: status === 'confirmed' ? 'paid' : 'open', released, pending };
  }

  private async restockAll(tx: DomainContext, orderId: string): Promise<string[]> {
    const refunds = new RefundRepository(tx);
    const done = await refunds.restocked(orderId);
    const lines = await new OrderRepository(tx).linesOf([orderId]);
    const restocked: string[] = [];
    for (const line of [...lines].sort((a, b) => a.productId.localeCompare(b.productId))) {
      const quantity = line.quantity - (done.get(line.productId) ?? 0);
      if (quantity <= 0) continue;
      await refunds.restock(orderId, line.productId, quantity, 'cancelled');
      restocked.push(line.productId);
    }
    return restocked;
  }

  /**
   * The checkout's compensation for the PaymentIntent: cancelled, or refunded if it succeeded. A Stripe
   * outage is logged and left to the orchestration (told by the caller) and the sweeper's backstop.
   */
  private async undoIntent(orderId: string): Promise<void> {
    const deps: StepDeps = { log: this.ctx.log, gateway: this.gateway, sender: getMessageSender };
    try {
      await undoPaymentIntent(deps, {
        orderId,
        tenantId: this.ctx.tenantId,
        paymentTimeoutSeconds: 0,
        status: 'failed',
        reason: 'payment_canceled',
        refund: true,
      });
    } catch (error) {
      if (!(error instanceof TransientPaymentError)) throw error;
      this.ctx.log.warn(`cancel of order ${orderId}: Stripe unavailable; the checkout's undo will finish it`);
    }
  }
}

async function lockOwnOrder(
  tx: DomainContext,
  orderId: string,
  ownerId: string | undefined,
): Promise<OrderStatus | undefined> {
  const rows = await tx.em.execute<{ status: OrderStatus; user_id: string }[]>(
    'select status, user_id from orders where tenant_id = ? and id = ? for update',
    [tx.tenantId, orderId],
  );
  const row = rows[0];
  if (!row || (ownerId !== undefined && row.user_id !== ownerId)) return undefined;
  return row.status;
}

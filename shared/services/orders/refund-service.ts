import { createHash } from 'node:crypto';
import { runUnitOfWork } from '../../db/unit-of-work.js';
import {
  ConflictException,
  NotFoundException,
  UnauthorizedException,
  UnprocessableException,
  ValidationException,
} from '../../errors/index.js';
import type { OrderStatus } from '../../models/order.js';
import { OrderDeskRepository } from '../../repositories/order-desk-repository.js';
import { OrderRepository } from '../../repositories/order-repository.js';
import { RefundRepository, type RefundRecord } from '../../repositories/refund-repository.js';
import type { RefundBody, RefundRequestBody } from '../../schemas/manage-orders.js';
import { trackEvent } from '../../telemetry/index.js';
import { isUuid, newId } from '../../utils/ids.js';
import { AuditOutboxWriter } from '../audit/outbox.js';
import type { DomainContext } from '../context.js';
import { StripePaymentGateway, type PaymentGateway, type RefundView } from '../payments/payment-gateway.js';
import { PaymentLedger } from '../payments/payment-ledger.js';
import { TransientPaymentError } from '../payments/payment-errors.js';
import { executeRefund, type RefundOutcome } from '../payments/refunds.js';
import { writeOrderEvent } from './order-events.js';
import { OrderLifecycle } from './order-lifecycle.js';

export class OrderNotRefundableException extends ConflictException {
  override readonly type = 'order-not-refundable';
  override readonly title = 'Order cannot be refunded';
  constructor(status: string) {
    super(`Only a confirmed or shipped order can be refunded; this one is ${status}.`);
    this.extensions.orderStatus = status;
  }
}

export class RefundExceedsRemainingException extends ConflictException {
  override readonly type = 'refund-exceeds-remaining';
  override readonly title = 'More than what is left to refund';
  constructor(requested: number, remaining: number) {
    super(`${requested} requested, ${remaining} left to refund.`);
    this.extensions.remainingCents = remaining;
  }
}

export const REFUNDABLE: readonly OrderStatus[] = ['confirmed', 'shipped'];

export function toRefundBody(refund: RefundRecord): RefundBody {
  return {
    id: refund.id,
    amountCents: refund.amountCents,
    reason: refund.reason,
    status: refund.status,
    createdAt: refund.createdAt,
  };
}

function requestHash(request: RefundRequestBody): string {
  const restock = [...(request.restock ?? [])].sort((a, b) => a.productId.localeCompare(b.productId));
  return createHash('sha256')
    .update(JSON.stringify([request.amountCents ?? null, request.reason.trim(), restock]))
    .digest('hex');
}

/** Runs `fn` in its own transaction, in the caller's tenant, as the caller. */
export function inTransaction<T>(ctx: DomainContext, fn: (tx: DomainContext) => Promise<T>): Promise<T> {
  return runUnitOfWork('write', (em) => fn({ ...ctx, em }));
}

/**
 * After a refund row settled: once every cent is back for good (nothing pending), a confirmed or shipped
 * order becomes `refunded` and its payment `refunded`. Then the refund's `order.refunded` event (its id
 * is the refund's, so a second settle writes nothing). Cancellations announce themselves with
 * `order.cancelled` instead. Runs in the settling transaction, under the order's row lock.
 */
export async function afterRefundSettled(
  ctx: DomainContext,
  orderId: string,
  refund: Pick<RefundRecord, 'id' | 'amountCents' | 'source'>,
): Promise<void> {
  const refunds = new RefundRepository(ctx);
  if (await refunds.fullyRefunded(orderId)) {
    await new PaymentLedger(ctx).advance(orderId, 'refunded', { source: 'refund' });
    await new OrderLifecycle(ctx).move(orderId, 'refunded');
  }
  const status = await new OrderDeskRepository(ctx).lockStatus(orderId);
  // A closed order's money came back through its checkout or its cancellation, which tell the customer.
  if (refund.source !== 'cancel' && status && [...REFUNDABLE, 'refunded'].includes(status)) {
    const payment = await refunds.lockPayment(orderId);
    await writeOrderEvent(ctx, {
      type: 'order.refunded',
      orderId,
      eventId: refund.id,
      data: {
        refundId: refund.id,
        amountCents: refund.amountCents,
        refundedCents: payment?.refundedCents ?? refund.amountCents,
        currency: payment?.currency ?? null,
      },
    });
  }
  trackEvent('PaymentRefunded', { tenantId: ctx.tenantId, orderId, refundId: refund.id });
}

/**
 * Refunds (POST /manage/orders/{id}/refunds) and the re-drive of pending refunds. A refund is promised in
 * one transaction under the order's and then the payment's row lock — idempotency key checked, amount
 * checked against what is left and reserved by one conditional UPDATE, the row inserted `pending`, the
 * restock applied — and only then sent to Stripe, outside any transaction. Stripe's answer settles the
 * row in a second transaction; a refusal gives the promise back. A Stripe outage leaves it pending: the
 * same request again (same key) finishes it.
 */
export class RefundService {
  constructor(
    private readonly ctx: DomainContext,
    private readonly gateway: () => PaymentGateway = () => new StripePaymentGateway(),
  ) {}

  async create(
    orderId: string,
    key: string,
    request: RefundRequestBody,
  ): Promise<{ refund: RefundBody; created: boolean }> {
    if (!this.ctx.principal?.userId) throw new UnauthorizedException();
    const hash = requestHash(request);
    const promised = await inTransaction(this.ctx, async (tx) => {
      const status = isUuid(orderId) ? await new OrderDeskRepository(tx).lockStatus(orderId) : undefined;
      if (!status) throw new NotFoundException('Order not found.');
      const refunds = new RefundRepository(tx);
      const existing = await refunds.byKey(orderId, key);
      if (existing) {
        if (existing.requestHash !== hash) {
          throw new UnprocessableException('This Idempotency-Key was used with a different request.');
        }
        return { refund: existing, created: false };
      }
      if (!REFUNDABLE.includes(status)) throw new OrderNotRefundableException(status);
      const payment = await refunds.lockPayment(orderId);
      if (!payment?.paymentIntentId || payment.status !== 'succeeded') {
        throw new OrderNotRefundableException(status);
      }
      const remaining = payment.amountCents - payment.refundedCents;
      const amount = request.amountCents ?? remaining;
      if (amount < 1 || amount > remaining) throw new RefundExceedsRemainingException(amount, remaining);
      if ((await refunds.reserve(orderId, amount)) === null) {
        throw new RefundExceedsRemainingException(amount, remaining);
      }
      await this.restock(tx, orderId, request.restock ?? []);
      const refund = await refunds.insert({
        id: newId(),
        orderId,
        amountCents: amount,
        reason: request.reason.trim(),
        status: 'pending',
        source: 'admin',
        idempotencyKey: key,
        requestHash: hash,
      });
      if (!refund) throw new Error(`order ${orderId}: refund row not inserted`);
      await new AuditOutboxWriter(tx).recordChange(
        { sql: 'select ?::uuid as id', params: [orderId] },
        {
          entity: 'order',
          action: 'refund:requested',
          payload: { refundId: refund.id, amountCents: amount, reason: refund.reason },
        },
      );
      return { refund, created: true };
    });
    const refund = promised.refund.status === 'pending' ? await this.drive(promised.refund) : promised.refund;
    return { refund: toRefundBody(refund), created: promised.created };
  }

  /** Sends a pending refund to Stripe and settles it with the answer; returns the row as it ends. */
  async drive(refund: RefundRecord): Promise<RefundRecord> {
    const payment = await inTransaction(this.ctx, (tx) =>
      new RefundRepository(tx).lockPayment(refund.orderId),
    );
    if (!payment?.paymentIntentId) throw new Error(`order ${refund.orderId}: no payment to refund`);
    let outcome = await executeRefund(
      this.gateway(),
      payment.paymentIntentId,
      refund.id,
      refund.amountCents,
      { promisedTotal: payment.refundedCents, captured: payment.amountCents },
    );
    // A refusal usually means money went back another way (the dashboard, a refund racing ours) whose
    // webhook found our promise in the way and did not count it: Stripe's list is read now and counted
    // in the same transaction that gives our promise back, so the books never show less than Stripe.
    let stripeRefunds: RefundView[] = [];
    if (outcome.kind === 'failed') {
      try {
        stripeRefunds = await this.gateway().listRefunds(payment.paymentIntentId);
      } catch (error) {
        if (!(error instanceof TransientPaymentError)) throw error;
        outcome = { kind: 'pending' };
      }
    }
    if (outcome.kind === 'pending') {
      this.ctx.log.warn(`refund ${refund.id} of order ${refund.orderId}: Stripe unavailable, left pending`);
      return refund;
    }
    const settled = outcome;
    return inTransaction(this.ctx, async (tx) => {
      await new OrderDeskRepository(tx).lockStatus(refund.orderId);
      await settleRefund(tx, refund, settled);
      if (stripeRefunds.length > 0) await recordStripeRefunds(tx, refund.orderId, stripeRefunds);
      return (await new RefundRepository(tx).byId(refund.id)) ?? refund;
    });
  }

  private async restock(
    tx: DomainContext,
    orderId: string,
    lines: NonNullable<RefundRequestBody['restock']>,
  ): Promise<void> {
    if (lines.length === 0) return;
    const ordered = new Map(
      (await new OrderRepository(tx).linesOf([orderId])).map((line) => [line.productId, line.quantity]),
    );
    const refunds = new RefundRepository(tx);
    const done = await refunds.restocked(orderId);
    const wanted = new Map<string, number>();
    for (const line of lines) wanted.set(line.productId, (wanted.get(line.productId) ?? 0) + line.quantity);
    const errors = [...wanted]
      .filter(
        ([productId, quantity]) => quantity > (ordered.get(productId) ?? 0) - (done.get(productId) ?? 0),
      )
      .map(([productId]) => ({
        field: 'body.restock',
        message: `product ${productId}: more than the order's units not yet restocked`,
      }));
    if (errors.length > 0) throw new ValidationException(errors);
    for (const [productId, quantity] of [...wanted].sort(([a], [b]) => a.localeCompare(b))) {
      await refunds.restock(orderId, productId, quantity, 'refund');
    }
  }
}

/**
 * Settles a pending refund row with Stripe's answer, in the caller's transaction (order row locked).
 * A refusal gives the promised amount back; a success may complete the order's refund.
 */
export async function settleRefund(
  tx: DomainContext,
  refund: Pick<RefundRecord, 'id' | 'orderId' | 'amountCents' | 'source'>,
  outcome: Exclude<RefundOutcome, { kind: 'pending' }>,
): Promise<void> {
  const refunds = new RefundRepository(tx);
  await refunds.lockPayment(refund.orderId);
  if (outcome.kind === 'failed') {
    if (await refunds.settle(refund.id, 'failed', null)) {
      await refunds.unreserve(refund.orderId, refund.amountCents);
      tx.log.warn(`refund ${refund.id} of order ${refund.orderId} refused by Stripe (${outcome.code})`);
    }
    return;
  }
  if (await refunds.settle(refund.id, 'succeeded', outcome.stripeRefundId)) {
    await afterRefundSettled(tx, refund.orderId, refund);
  }
}

/**
 * A `charge.refunded` webhook: Stripe's list of the intent's refunds, reconciled with ours in the
 * webhook's transaction (order row locked). Ours (named by metadata) are settled if still pending;
 * the others — the checkout backstop's (`metadata.origin`) or made in the dashboard — are recorded once
 * (the unique Stripe refund id) under their source and counted,
 * unless our ledger already promises that money back (the checkout's own remainder refund of a closed
 * order, or a cancellation's refund that Stripe reports without our id).
 */
export async function recordStripeRefunds(
  tx: DomainContext,
  orderId: string,
  stripeRefunds: readonly RefundView[],
): Promise<number> {
  await new OrderDeskRepository(tx).lockStatus(orderId);
  const refunds = new RefundRepository(tx);
  let recorded = 0;
  for (const seen of stripeRefunds) {
    if (seen.status === 'failed' || seen.status === 'canceled') continue;
    const ours = seen.refundId && isUuid(seen.refundId) ? await refunds.byId(seen.refundId) : undefined;
    if (ours) {
      if (ours.status === 'pending') {
        await settleRefund(tx, ours, { kind: 'succeeded', stripeRefundId: seen.id });
        recorded++;
      }
      continue;
    }
    if (await refunds.byStripeId(seen.id)) continue;
    await refunds.lockPayment(orderId);
    if ((await refunds.reserve(orderId, seen.amount)) === null) {
      tx.log.warn(`order ${orderId}: Stripe refund ${seen.id} already counted by a refund of ours`);
      continue;
    }
    const row = await refunds.insert({
      id: newId(),
      orderId,
      amountCents: seen.amount,
      ...(seen.backstop
        ? { reason: 'refunded automatically: the payment was not kept for this order', source: 'backstop' }
        : { reason: 'refunded in the Stripe dashboard', source: 'stripe' }),
      status: 'succeeded',
      stripeRefundId: seen.id,
    });
    if (!row) {
      // Another delivery recorded it a moment ago (the unique Stripe id): give the count back.
      await refunds.unreserve(orderId, seen.amount);
      continue;
    }
    await afterRefundSettled(tx, orderId, row);
    recorded++;
  }
  return recorded;
}

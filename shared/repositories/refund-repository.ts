import type { DomainContext } from '../services/context.js';

export type RefundStatus = 'pending' | 'succeeded' | 'failed';
/**
 * Who refunded: an admin, a cancellation, the checkout's backstop (a payment no order keeps, refunded by
 * compensation, the sweeper or the reconciliation), or someone at Stripe (the dashboard).
 */
export type RefundSource = 'admin' | 'cancel' | 'backstop' | 'stripe';

export interface RefundRecord {
  id: string;
  orderId: string;
  amountCents: number;
  reason: string;
  status: RefundStatus;
  source: RefundSource;
  idempotencyKey: string | null;
  requestHash: string | null;
  stripeRefundId: string | null;
  /** ISO-8601 UTC (milliseconds). */
  createdAt: string;
}

interface RefundSqlRow {
  id: string;
  order_id: string;
  amount_cents: string | number;
  reason: string;
  status: RefundStatus;
  source: RefundSource;
  idempotency_key: string | null;
  request_hash: string | null;
  stripe_refund_id: string | null;
  created_at: string;
}

const COLUMNS = `id, order_id, amount_cents, reason, status, source, idempotency_key, request_hash,
  stripe_refund_id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at`;

function toRefund(row: RefundSqlRow): RefundRecord {
  return {
    id: row.id,
    orderId: row.order_id,
    amountCents: Number(row.amount_cents),
    reason: row.reason,
    status: row.status,
    source: row.source,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    stripeRefundId: row.stripe_refund_id,
    createdAt: row.created_at,
  };
}

/** The payment's money figures, read under its row lock. */
export interface PaymentMoney {
  paymentId: string;
  status: string;
  paymentIntentId: string | null;
  amountCents: number;
  refundedCents: number;
  currency: string;
}

/**
 * Refund rows and the payment's `refunded_cents`, as plain SQL in the caller's unit of work, each query
 * scoped to the tenant. `refunded_cents` counts pending refunds too: it is what is promised back, so
 * what is left to refund is always `amount_cents - refunded_cents`.
 */
export class RefundRepository {
  constructor(private readonly ctx: DomainContext) {}

  async byKey(orderId: string, key: string): Promise<RefundRecord | undefined> {
    const rows = await this.ctx.em.execute<RefundSqlRow[]>(
      `select ${COLUMNS} from refunds where tenant_id = ? and order_id = ? and idempotency_key = ?`,
      [this.ctx.tenantId, orderId, key],
    );
    return rows[0] ? toRefund(rows[0]) : undefined;
  }

  async byId(refundId: string): Promise<RefundRecord | undefined> {
    const rows = await this.ctx.em.execute<RefundSqlRow[]>(
      `select ${COLUMNS} from refunds where tenant_id = ? and id = ?`,
      [this.ctx.tenantId, refundId],
    );
    return rows[0] ? toRefund(rows[0]) : undefined;
  }

  async byStripeId(stripeRefundId: string): Promise<RefundRecord | undefined> {
    const rows = await this.ctx.em.execute<RefundSqlRow[]>(
      `select ${COLUMNS} from refunds where tenant_id = ? and stripe_refund_id = ?`,
      [this.ctx.tenantId, stripeRefundId],
    );
    return rows[0] ? toRefund(rows[0]) : undefined;
  }

  /** The order's refunds, oldest first (one statement). */
  async ofOrder(orderId: string): Promise<RefundRecord[]> {
    const rows = await this.ctx.em.execute<RefundSqlRow[]>(
      `select ${COLUMNS} from refunds where tenant_id = ? and order_id = ? order by created_at, id`,
      [this.ctx.tenantId, orderId],
    );
    return rows.map(toRefund);
  }

  async pendingOf(orderId: string): Promise<RefundRecord[]> {
    return (await this.ofOrder(orderId)).filter((refund) => refund.status === 'pending');
  }

  /** The payment's figures under its row lock (taken after the order's, as every writer does). */
  async lockPayment(orderId: string): Promise<PaymentMoney | undefined> {
    const rows = await this.ctx.em.execute<
      {
        id: string;
        status: string;
        payment_intent_id: string | null;
        amount_cents: string;
        refunded_cents: string;
        currency: string;
      }[]
    >(
      `select id, status, payment_intent_id, amount_cents, refunded_cents, currency from payments
       where tenant_id = ? and order_id = ? for update`,
      [this.ctx.tenantId, orderId],
    );
    const row = rows[0];
    return row
      ? {
          paymentId: row.id,
          status: row.status,
          paymentIntentId: row.payment_intent_id,
          amountCents: Number(row.amount_cents),
          refundedCents: Number(row.refunded_cents),
          currency: row.currency,
        }
      : undefined;
  }

  /**
   * Promises `amount` back: one conditional statement, so even without the row lock two writers can
   * never together exceed the amount (the table's check constraint is the last line). Returns the new
   * refunded total, or null when it would not fit.
   */
  async reserve(orderId: string, amount: number): Promise<number | null> {
    const rows = await this.ctx.em.execute<{ refunded_cents: string }[]>(
      `update payments set refunded_cents = refunded_cents + ?, updated_at = now()
       where tenant_id = ? and order_id = ? and refunded_cents + ? <= amount_cents
       returning refunded_cents`,
      [amount, this.ctx.tenantId, orderId, amount],
    );
    return rows[0] ? Number(rows[0].refunded_cents) : null;
  }

  /** Gives back a promise that Stripe refused. */
  async unreserve(orderId: string, amount: number): Promise<void> {
    await this.ctx.em.execute(
      `update payments set refunded_cents = refunded_cents - ?, updated_at = now()
       where tenant_id = ? and order_id = ? and refunded_cents >= ?`,
      [amount, this.ctx.tenantId, orderId, amount],
    );
  }

  async insert(refund: {
    id: string;
    orderId: string;
    amountCents: number;
    reason: string;
    status: RefundStatus;
    source: RefundSource;
    idempotencyKey?: string | null;
    requestHash?: string | null;
    stripeRefundId?: string | null;
  }): Promise<RefundRecord | undefined> {
    const rows = await this.ctx.em.execute<RefundSqlRow[]>(
      `insert into refunds (id, tenant_id, order_id, amount_cents, reason, status, source, idempotency_key,
         request_hash, stripe_refund_id, actor_id)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict do nothing
       returning ${COLUMNS}`,
      [
        refund.id,
        this.ctx.tenantId,
        refund.orderId,
        refund.amountCents,
        refund.reason,
        refund.status,
        refund.source,
        refund.idempotencyKey ?? null,
        refund.requestHash ?? null,
        refund.stripeRefundId ?? null,
        this.ctx.principal?.userId ?? null,
      ],
    );
    return rows[0] ? toRefund(rows[0]) : undefined;
  }

  /** pending → succeeded|failed, once; false when it was already settled (by a webhook or a repeat). */
  async settle(
    refundId: string,
    to: 'succeeded' | 'failed',
    stripeRefundId: string | null,
  ): Promise<boolean> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      `update refunds set status = ?, stripe_refund_id = coalesce(?, stripe_refund_id), updated_at = now()
       where tenant_id = ? and id = ? and status = 'pending' returning id`,
      [to, stripeRefundId, this.ctx.tenantId, refundId],
    );
    return rows.length === 1;
  }

  /** Whether every promised cent is refunded for good (nothing pending) and it is the whole amount. */
  async fullyRefunded(orderId: string): Promise<boolean> {
    const rows = await this.ctx.em.execute<{ full: boolean }[]>(
      `select p.refunded_cents = p.amount_cents
              and not exists (select 1 from refunds r where r.tenant_id = p.tenant_id
                                and r.order_id = p.order_id and r.status = 'pending') as full
       from payments p where p.tenant_id = ? and p.order_id = ?`,
      [this.ctx.tenantId, orderId],
    );
    return rows[0]?.full === true;
  }

  /** Units of each product already put back on sale for this order. */
  async restocked(orderId: string): Promise<Map<string, number>> {
    const rows = await this.ctx.em.execute<{ product_id: string; quantity: string }[]>(
      `select product_id, sum(on_hand_delta) as quantity from stock_movements
       where tenant_id = ? and order_id = ? and kind = 'restock' group by product_id`,
      [this.ctx.tenantId, orderId],
    );
    return new Map(rows.map((row) => [row.product_id, Number(row.quantity)]));
  }

  /** Puts sold units back on sale with their ledger row, in one statement. */
  async restock(orderId: string, productId: string, quantity: number, reason: string): Promise<void> {
    await this.ctx.em.execute(
      `with inv as (
         update inventory i set available = i.available + ?::integer, sold = greatest(i.sold - ?::integer, 0),
                updated_at = now()
          where i.product_id = ? and i.tenant_id = ?
         returning i.product_id, i.tenant_id
       )
       insert into stock_movements (tenant_id, product_id, kind, on_hand_delta, reserved_delta, order_id, reason, actor_id)
       select tenant_id, product_id, 'restock', ?::integer, 0, ?::uuid, ?, ?::uuid from inv`,
      [
        quantity,
        quantity,
        productId,
        this.ctx.tenantId,
        quantity,
        orderId,
        reason,
        this.ctx.principal?.userId ?? null,
      ],
    );
  }

  async setCancelReason(orderId: string, reason: string): Promise<void> {
    await this.ctx.em.execute(`update orders set cancel_reason = ? where tenant_id = ? and id = ?`, [
      reason,
      this.ctx.tenantId,
      orderId,
    ]);
  }

  async markDisputed(orderId: string): Promise<boolean> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      `update payments set disputed = true, updated_at = now()
       where tenant_id = ? and order_id = ? and not disputed returning id`,
      [this.ctx.tenantId, orderId],
    );
    return rows.length === 1;
  }
}

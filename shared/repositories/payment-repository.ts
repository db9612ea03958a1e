import type { EntityManager } from '@mikro-orm/postgresql';
import type { PaymentStatus } from '../models/payment.js';
import type { DomainContext } from '../services/context.js';
import { paymentPredecessors } from '../services/payments/payment-status.js';
import { newId } from '../utils/ids.js';

export interface PaymentRecord {
  id: string;
  tenantId: string;
  orderId: string;
  paymentIntentId: string | null;
  status: PaymentStatus;
  amountCents: number;
  currency: string;
}

interface PaymentSqlRow {
  id: string;
  tenant_id: string;
  order_id: string;
  payment_intent_id: string | null;
  status: PaymentStatus;
  amount_cents: string | number;
  currency: string;
}

const COLUMNS = 'id, tenant_id, order_id, payment_intent_id, status, amount_cents, currency';

/** A data-modifying statement returning the changed payment's id (composed with its audit row). */
export interface Statement {
  sql: string;
  params: unknown[];
}

function toPayment(row: PaymentSqlRow): PaymentRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    orderId: row.order_id,
    paymentIntentId: row.payment_intent_id,
    status: row.status,
    amountCents: Number(row.amount_cents),
    currency: row.currency,
  };
}

/**
 * The payments table: Stripe ids, status, amount and currency — never card data. The client secret is
 * kept only while the customer has to act on it (`requires_action`) and cleared by any later status.
 */
export class PaymentRepository {
  constructor(private readonly ctx: DomainContext) {}

  async findByOrder(orderId: string): Promise<PaymentRecord | undefined> {
    const rows = await this.ctx.em.execute<PaymentSqlRow[]>(
      `select ${COLUMNS} from payments where tenant_id = ? and order_id = ?`,
      [this.ctx.tenantId, orderId],
    );
    return rows[0] ? toPayment(rows[0]) : undefined;
  }

  /** Opens the order's payment (one per order, unique order_id): a re-run inserts nothing. */
  openStatement(orderId: string, amountCents: number, currency: string): Statement {
    return {
      sql: `insert into payments (id, tenant_id, order_id, status, amount_cents, currency)
            values (?, ?, ?, 'pending', ?, ?)
            on conflict (order_id) do nothing returning id`,
      params: [newId(), this.ctx.tenantId, orderId, amountCents, currency],
    };
  }

  /** Records the PaymentIntent id (once) and the intent's status (if it moves the payment forward). */
  attachStatement(orderId: string, paymentIntentId: string, status: PaymentStatus): Statement {
    return {
      sql: `update payments set payment_intent_id = ?,
              status = case when status in (?) then ? else status end, updated_at = now()
            where tenant_id = ? and order_id = ? and payment_intent_id is null
            returning id`,
      params: [paymentIntentId, paymentPredecessors(status), status, this.ctx.tenantId, orderId],
    };
  }

  /**
   * Moves the payment forward to `to` (never back: see PAYMENT_STATUS_RANK); changes nothing when the
   * payment is already at or past `to`'s rank. The client secret is kept only for `requires_action`.
   */
  advanceStatement(
    orderId: string,
    to: PaymentStatus,
    details: { clientSecret?: string | null; lastError?: string | null } = {},
    /** Moves only a payment of exactly this amount and currency (Stripe's figures, checked in the write). */
    only?: { amountCents: number; currency: string },
  ): Statement {
    return {
      sql: `update payments set status = ?, client_secret = ?, last_error = coalesce(?, last_error), updated_at = now()
            where tenant_id = ? and order_id = ? and status in (?)${only ? ' and amount_cents = ? and lower(currency) = lower(?)' : ''} returning id`,
      params: [
        to,
        to === 'requires_action' ? (details.clientSecret ?? null) : null,
        details.lastError ?? null,
        this.ctx.tenantId,
        orderId,
        paymentPredecessors(to),
        ...(only ? [only.amountCents, only.currency] : []),
      ],
    };
  }
}

/**
 * Finds a payment by its PaymentIntent id across tenants. Only the webhook uses this: Stripe's event
 * names a PaymentIntent, not a tenant, and the globally unique intent id is what tells us which tenant
 * (and order) it belongs to; everything after that runs in the found tenant's context.
 */
export async function findPaymentByIntentId(
  em: EntityManager,
  paymentIntentId: string,
): Promise<PaymentRecord | undefined> {
  const rows = await em.execute<PaymentSqlRow[]>(
    `select ${COLUMNS} from payments where payment_intent_id = ?`,
    [paymentIntentId],
  );
  return rows[0] ? toPayment(rows[0]) : undefined;
}

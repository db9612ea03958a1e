import type { EntityManager } from '@mikro-orm/postgresql';
import { runAutocommitStatement } from '../db/autocommit.js';
import type { OrderStatus } from '../models/order.js';
import type { PaymentStatus } from '../models/payment.js';
import type { DomainContext } from '../services/context.js';
import { newId } from '../utils/ids.js';

export interface OrderRecord {
  id: string;
  tenantId: string;
  userId: string;
  status: OrderStatus;
  totalCents: number;
  currency: string;
  idempotencyKey: string;
  requestHash: string;
  paymentMethodId: string;
  failureReason: string | null;
  /** ISO-8601 UTC with microseconds: the exact keyset position, and the API's createdAt. */
  createdAt: string;
}

export interface FulfilmentRecord {
  carrier: string;
  trackingNumber: string;
  /** ISO-8601 UTC (milliseconds). */
  shippedAt: string;
}

export interface OrderWithPayment extends OrderRecord {
  paymentStatus: PaymentStatus | null;
  paymentIntentId: string | null;
  clientSecret: string | null;
  refundedCents: number;
  disputed: boolean;
  shippingAddressEnc: string | null;
  fulfilment: FulfilmentRecord | null;
}

export interface NewOrder {
  id: string;
  userId: string;
  totalCents: number;
  currency: string;
  idempotencyKey: string;
  requestHash: string;
  paymentMethodId: string;
  /** The shipping address as a Fernet token (PII). */
  shippingAddressEnc?: string | null;
}

export interface OrderLineRecord {
  orderId: string;
  productId: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
  lineTotalCents: number;
}

export interface OrderSqlRow {
  id: string;
  tenant_id: string;
  user_id: string;
  status: OrderStatus;
  total_cents: string | number;
  currency: string;
  idempotency_key: string;
  request_hash: string;
  payment_method_id: string;
  failure_reason: string | null;
  created_at: string;
  payment_status?: PaymentStatus | null;
  payment_intent_id?: string | null;
  refunded_cents?: string | number | null;
  disputed?: boolean | null;
  client_secret?: string | null;
  shipping_address_enc?: string | null;
  carrier?: string | null;
  tracking_number?: string | null;
  shipped_at?: string | null;
}

/** An order's lines as the JSON aggregate of ORDER_LINES_JSON (camelCase keys, int8 money as numbers). */
interface LineJson {
  productId: string;
  name: string;
  quantity: number;
  unitPriceCents: string | number;
  lineTotalCents: string | number;
}

interface LineSqlRow {
  order_id: string;
  product_id: string;
  name: string;
  quantity: number;
  unit_price_cents: string | number;
  line_total_cents: string | number;
}

/** int8 arrives from pg as a string; money must stay an exact integer or fail loudly. */
function exact(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error('stored amount is not a safe integer');
  return n;
}

const CREATED_AT = `to_char(o.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at`;
const ORDER_COLUMNS = `o.id, o.tenant_id, o.user_id, o.status, o.total_cents, o.currency, o.idempotency_key,
  o.request_hash, o.payment_method_id, o.failure_reason, ${CREATED_AT}`;
export const WITH_PAYMENT = `${ORDER_COLUMNS}, p.status as payment_status, p.payment_intent_id, p.client_secret,
  p.refunded_cents, p.disputed,
  o.shipping_address_enc, f.carrier, f.tracking_number,
  to_char(f.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as shipped_at`;
/** The joins WITH_PAYMENT reads from (an order has at most one payment and one fulfilment). */
export const PAYMENT_JOINS = `left join payments p on p.order_id = o.id and p.tenant_id = o.tenant_id
  left join fulfilments f on f.order_id = o.id and f.tenant_id = o.tenant_id`;

/** The order's lines in product-id order, as one JSON value (a correlated subquery on `o`). */
const ORDER_LINES_JSON = `(select coalesce(json_agg(json_build_object('productId', l.product_id, 'name', l.name,
    'quantity', l.quantity, 'unitPriceCents', l.unit_price_cents, 'lineTotalCents', l.line_total_cents)
    order by l.product_id), '[]'::json)
  from order_lines l where l.tenant_id = o.tenant_id and l.order_id = o.id) as lines`;

export interface OrderWithLines {
  order: OrderRecord;
  lines: OrderLineRecord[];
}

function toOrderWithLines(row: OrderSqlRow & { lines: LineJson[] }): OrderWithLines {
  return {
    order: toOrder(row),
    lines: row.lines.map((line) => ({
      orderId: row.id,
      productId: line.productId,
      name: line.name,
      quantity: line.quantity,
      unitPriceCents: exact(line.unitPriceCents),
      lineTotalCents: exact(line.lineTotalCents),
    })),
  };
}

// Autocommit texts: values bound, the tenant as $1 (runAutocommitStatement refuses anything else).
const READ_ORDER = `select ${ORDER_COLUMNS} from orders o where o.tenant_id = $1 and o.id = $2`;
const READ_ORDER_WITH_LINES = `select ${ORDER_COLUMNS}, ${ORDER_LINES_JSON}
  from orders o where o.tenant_id = $1 and o.id = $2`;

/**
 * Committed order state outside any unit of work, as one autocommit statement on the ORM's pool
 * (shared/db/autocommit.ts): no EntityManager fork, no value inlining. Not the read pool: it is a
 * quarter of the connections, shared with search, and every checkout activity starts here. For the checkout activities' first look
 * at their order, which must see only committed data and never an invocation's own uncommitted writes —
 * every decision taken on it is re-checked by the conditional write that follows.
 */
export async function readCommittedOrder(
  tenantId: string,
  orderId: string,
): Promise<OrderRecord | undefined> {
  const rows = await runAutocommitStatement<OrderSqlRow>(tenantId, {
    text: READ_ORDER,
    values: [tenantId, orderId],
  });
  return rows[0] ? toOrder(rows[0]) : undefined;
}

/** As readCommittedOrder, with the order's lines in product-id order (one statement). */
export async function readCommittedOrderWithLines(
  tenantId: string,
  orderId: string,
): Promise<OrderWithLines | undefined> {
  const rows = await runAutocommitStatement<OrderSqlRow & { lines: LineJson[] }>(tenantId, {
    text: READ_ORDER_WITH_LINES,
    values: [tenantId, orderId],
  });
  return rows[0] ? toOrderWithLines(rows[0]) : undefined;
}

function toOrder(row: OrderSqlRow): OrderRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    status: row.status,
    totalCents: exact(row.total_cents),
    currency: row.currency,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    paymentMethodId: row.payment_method_id,
    failureReason: row.failure_reason,
    createdAt: row.created_at,
  };
}

export function toOrderWithPayment(row: OrderSqlRow): OrderWithPayment {
  return {
    ...toOrder(row),
    paymentStatus: row.payment_status ?? null,
    paymentIntentId: row.payment_intent_id ?? null,
    clientSecret: row.client_secret ?? null,
    refundedCents: row.refunded_cents == null ? 0 : exact(row.refunded_cents),
    disputed: row.disputed === true,
    shippingAddressEnc: row.shipping_address_enc ?? null,
    fulfilment:
      row.carrier && row.tracking_number && row.shipped_at
        ? { carrier: row.carrier, trackingNumber: row.tracking_number, shippedAt: row.shipped_at }
        : null,
  };
}

/** Orders and their lines, as plain SQL through the invocation's unit of work; always tenant-scoped. */
export class OrderRepository {
  constructor(private readonly ctx: DomainContext) {}

  async findByIdempotencyKey(userId: string, key: string): Promise<OrderRecord | undefined> {
    const rows = await this.ctx.em.execute<OrderSqlRow[]>(
      `select ${ORDER_COLUMNS} from orders o where o.tenant_id = ? and o.user_id = ? and o.idempotency_key = ?`,
      [this.ctx.tenantId, userId, key],
    );
    return rows[0] ? toOrder(rows[0]) : undefined;
  }

  /**
   * findByIdempotencyKey that first locks the customer's user row (`for no key update`, held until the
   * transaction ends) in the same statement: the lock fair stock serialises a customer's checkouts on
   * (services/checkout/fair-stock.ts), without a round trip of its own. The order is read in the
   * statement's snapshot, taken before any wait for the lock; a same-key order committed during that
   * wait is still caught by the insert's unique key.
   */
  async lockUserAndFindByIdempotencyKey(userId: string, key: string): Promise<OrderRecord | undefined> {
    const rows = await this.ctx.em.execute<(OrderSqlRow | { id: null })[]>(
      `select ${ORDER_COLUMNS}
         from (select 1 from users where tenant_id = ? and id = ? for no key update) me
         left join orders o on o.tenant_id = ? and o.user_id = ? and o.idempotency_key = ?`,
      [this.ctx.tenantId, userId, this.ctx.tenantId, userId, key],
    );
    const row = rows[0];
    return row?.id ? toOrder(row) : undefined;
  }

  /**
   * The statement inserting the order unless one with the same (tenant, user, idempotency key)
   * exists; it returns the id only when it inserted. A racing insert with the same key waits on the
   * unique index for the first transaction, then inserts nothing: exactly one order per key.
   */
  insertStatement(order: NewOrder): { sql: string; params: unknown[] } {
    return {
      sql: `insert into orders (id, tenant_id, user_id, status, total_cents, currency, idempotency_key, request_hash,
              payment_method_id, shipping_address_enc)
            values (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)
            on conflict (tenant_id, user_id, idempotency_key) do nothing
            returning id`,
      params: [
        order.id,
        this.ctx.tenantId,
        order.userId,
        order.totalCents,
        order.currency,
        order.idempotencyKey,
        order.requestHash,
        order.paymentMethodId,
        order.shippingAddressEnc ?? null,
      ],
    };
  }

  async insertLines(orderId: string, lines: readonly Omit<OrderLineRecord, 'orderId'>[]): Promise<void> {
    if (lines.length === 0) return;
    const values: unknown[] = [];
    for (const line of lines) {
      values.push(
        newId(),
        this.ctx.tenantId,
        orderId,
        line.productId,
        line.name,
        line.quantity,
        line.unitPriceCents,
        line.lineTotalCents,
      );
    }
    await this.ctx.em.execute(
      `insert into order_lines (id, tenant_id, order_id, product_id, name, quantity, unit_price_cents,
         line_total_cents)
       values ${lines.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      values,
    );
  }

  async find(orderId: string): Promise<OrderRecord | undefined> {
    const rows = await this.ctx.em.execute<OrderSqlRow[]>(
      `select ${ORDER_COLUMNS} from orders o where o.tenant_id = ? and o.id = ?`,
      [this.ctx.tenantId, orderId],
    );
    return rows[0] ? toOrder(rows[0]) : undefined;
  }

  /** The order and its lines in one statement, in this unit of work (sees its uncommitted writes). */
  async findWithLines(orderId: string): Promise<OrderWithLines | undefined> {
    const rows = await this.ctx.em.execute<(OrderSqlRow & { lines: LineJson[] })[]>(
      `select ${ORDER_COLUMNS}, ${ORDER_LINES_JSON} from orders o where o.tenant_id = ? and o.id = ?`,
      [this.ctx.tenantId, orderId],
    );
    return rows[0] ? toOrderWithLines(rows[0]) : undefined;
  }

  /** One of the user's orders with its payment (one statement); another user's order is not found. */
  async findForUser(orderId: string, userId: string): Promise<OrderWithPayment | undefined> {
    const rows = await this.ctx.em.execute<OrderSqlRow[]>(
      `select ${WITH_PAYMENT}
       from orders o ${PAYMENT_JOINS}
       where o.tenant_id = ? and o.user_id = ? and o.id = ?`,
      [this.ctx.tenantId, userId, orderId],
    );
    return rows[0] ? toOrderWithPayment(rows[0]) : undefined;
  }

  /**
   * One page of the user's history, newest first, with each order's payment joined (one statement,
   * whatever the page size). `after` is the last row of the previous page: (created_at, id) strictly
   * below it, which the (tenant_id, user_id, created_at desc, id desc) index serves directly.
   */
  async historyPage(
    userId: string,
    limit: number,
    after?: { createdAt: string; id: string },
  ): Promise<OrderWithPayment[]> {
    const params: unknown[] = [this.ctx.tenantId, userId];
    let keyset = '';
    if (after) {
      keyset = 'and (o.created_at, o.id) < (?::timestamptz, ?::uuid)';
      params.push(after.createdAt, after.id);
    }
    params.push(limit);
    const rows = await this.ctx.em.execute<OrderSqlRow[]>(
      `select ${WITH_PAYMENT}
       from orders o ${PAYMENT_JOINS}
       where o.tenant_id = ? and o.user_id = ? ${keyset}
       order by o.created_at desc, o.id desc
       limit ?`,
      params,
    );
    return rows.map(toOrderWithPayment);
  }

  /** The lines of several orders in one statement (the page's eager load), in product-id order. */
  async linesOf(orderIds: readonly string[]): Promise<OrderLineRecord[]> {
    if (orderIds.length === 0) return [];
    const rows = await this.ctx.em.execute<LineSqlRow[]>(
      `select order_id, product_id, name, quantity, unit_price_cents, line_total_cents
       from order_lines where tenant_id = ? and order_id in (?) order by order_id, product_id`,
      [this.ctx.tenantId, [...orderIds]],
    );
    return rows.map((row) => ({
      orderId: row.order_id,
      productId: row.product_id,
      name: row.name,
      quantity: row.quantity,
      unitPriceCents: exact(row.unit_price_cents),
      lineTotalCents: exact(row.line_total_cents),
    }));
  }

  /**
   * The statement that moves the order to `to` only from one of `from` (statuses only move forward);
   * it changes nothing when the order is in any other status. Returns the order's id when it moved.
   */
  transitionStatement(
    orderId: string,
    to: OrderStatus,
    from: readonly OrderStatus[],
    failureReason?: string,
  ): { sql: string; params: unknown[] } {
    return {
      sql: `update orders set status = ?, failure_reason = coalesce(?, failure_reason), updated_at = now()
            where tenant_id = ? and id = ? and status in (?)
            returning id`,
      params: [to, failureReason ?? null, this.ctx.tenantId, orderId, [...from]],
    };
  }
}

/**
 * Orders charged but never confirmed whose reservation has expired: the orchestration died, or its
 * finalize gave up during a long database outage. A system query across tenants (the sweeper's), so it
 * takes an EntityManager, not a DomainContext; each order is then finalized in its own tenant.
 */
export async function findPaidUnconfirmedOrders(
  em: EntityManager,
  limit: number,
  onlyTenantId?: string,
): Promise<{ tenantId: string; orderId: string }[]> {
  const rows = await em.execute<{ tenant_id: string; order_id: string }[]>(
    `select distinct r.tenant_id, r.order_id
     from reservations r
     join orders o on o.id = r.order_id and o.tenant_id = r.tenant_id
     join payments p on p.order_id = r.order_id and p.tenant_id = r.tenant_id
     where r.status = 'active' and r.expires_at < now() and p.status = 'succeeded'
       and o.status in ('awaiting_payment', 'requires_action', 'paid')
       and (?::uuid is null or r.tenant_id = ?::uuid)
     limit ?`,
    [onlyTenantId ?? null, onlyTenantId ?? null, limit],
  );
  return rows.map((row) => ({ tenantId: row.tenant_id, orderId: row.order_id }));
}

import type { OrderStatus } from '../models/order.js';
import type { DomainContext } from '../services/context.js';
import {
  PAYMENT_JOINS,
  WITH_PAYMENT,
  toOrderWithPayment,
  type FulfilmentRecord,
  type OrderSqlRow,
  type OrderWithPayment,
} from './order-repository.js';

export interface DeskOrder extends OrderWithPayment {
  customerEmailEnc: string;
  customerName: string;
}

export interface DeskFilter {
  status?: OrderStatus | undefined;
  from?: string | undefined;
  to?: string | undefined;
  /** The blind index of the customer's email (never the email itself). */
  emailBidx?: string | undefined;
  after?: { createdAt: string; id: string } | undefined;
}

type DeskSqlRow = OrderSqlRow & { email_enc: string; customer_name: string };

const DESK_SELECT = `select ${WITH_PAYMENT}, u.email_enc, u.name as customer_name
  from orders o ${PAYMENT_JOINS}
  join users u on u.id = o.user_id and u.tenant_id = o.tenant_id`;

function toDeskOrder(row: DeskSqlRow): DeskOrder {
  return { ...toOrderWithPayment(row), customerEmailEnc: row.email_enc, customerName: row.customer_name };
}

/**
 * The admin's view of every order of the tenant, as plain SQL through the invocation's unit of work.
 * One statement per page whatever its size and filters, each filter served by an index led by the
 * tenant: status by (tenant_id, status, created_at desc, id desc); the email through users' unique
 * (tenant_id, email_bidx) to (tenant_id, user_id, created_at desc, id desc); neither by
 * (tenant_id, created_at, id) read backwards.
 */
export class OrderDeskRepository {
  constructor(private readonly ctx: DomainContext) {}

  async page(filter: DeskFilter, limit: number): Promise<DeskOrder[]> {
    const where = ['o.tenant_id = ?'];
    const params: unknown[] = [this.ctx.tenantId];
    if (filter.status) {
      where.push('o.status = ?');
      params.push(filter.status);
    }
    if (filter.from) {
      where.push('o.created_at >= ?::timestamptz');
      params.push(filter.from);
    }
    if (filter.to) {
      where.push('o.created_at < ?::timestamptz');
      params.push(filter.to);
    }
    if (filter.emailBidx) {
      // At most one user per (tenant, blind index): the planner takes it as a constant (an InitPlan).
      where.push('o.user_id = (select x.id from users x where x.tenant_id = ? and x.email_bidx = ?)');
      params.push(this.ctx.tenantId, filter.emailBidx);
    }
    if (filter.after) {
      where.push('(o.created_at, o.id) < (?::timestamptz, ?::uuid)');
      params.push(filter.after.createdAt, filter.after.id);
    }
    params.push(limit);
    const rows = await this.ctx.em.execute<DeskSqlRow[]>(
      `${DESK_SELECT} where ${where.join(' and ')} order by o.created_at desc, o.id desc limit ?`,
      params,
    );
    return rows.map(toDeskOrder);
  }

  async find(orderId: string): Promise<DeskOrder | undefined> {
    const rows = await this.ctx.em.execute<DeskSqlRow[]>(
      `${DESK_SELECT} where o.tenant_id = ? and o.id = ?`,
      [this.ctx.tenantId, orderId],
    );
    return rows[0] ? toDeskOrder(rows[0]) : undefined;
  }

  /** The order's payment id, for its audit trail (payment rows are audited under the payment's id). */
  async paymentId(orderId: string): Promise<string | undefined> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      'select id from payments where tenant_id = ? and order_id = ?',
      [this.ctx.tenantId, orderId],
    );
    return rows[0]?.id;
  }

  /** Locks the order row for a status change decided on its current status; undefined when absent. */
  async lockStatus(orderId: string): Promise<OrderStatus | undefined> {
    const rows = await this.ctx.em.execute<{ status: OrderStatus }[]>(
      'select status from orders where tenant_id = ? and id = ? for update',
      [this.ctx.tenantId, orderId],
    );
    return rows[0]?.status;
  }

  async fulfilment(orderId: string): Promise<FulfilmentRecord | undefined> {
    const rows = await this.ctx.em.execute<
      { carrier: string; tracking_number: string; shipped_at: string }[]
    >(
      `select carrier, tracking_number,
              to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as shipped_at
       from fulfilments where tenant_id = ? and order_id = ?`,
      [this.ctx.tenantId, orderId],
    );
    const row = rows[0];
    return row
      ? { carrier: row.carrier, trackingNumber: row.tracking_number, shippedAt: row.shipped_at }
      : undefined;
  }

  async insertFulfilment(
    orderId: string,
    carrier: string,
    trackingNumber: string,
    shippedBy: string,
  ): Promise<void> {
    await this.ctx.em.execute(
      `insert into fulfilments (order_id, tenant_id, carrier, tracking_number, shipped_by) values (?, ?, ?, ?, ?)`,
      [orderId, this.ctx.tenantId, carrier, trackingNumber, shippedBy],
    );
  }
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { DomainContext } from '../services/context.js';
import type { ReservationStatus } from '../models/reservation.js';
import { newId } from '../utils/ids.js';

export interface ActiveReservation {
  id: string;
  productId: string;
  quantity: number;
}

export interface ExpiredReservationOrder {
  tenantId: string;
  orderId: string;
}

/**
 * Reservations and the stock they hold. Every stock movement is ONE statement that moves a reservation
 * row and its inventory row together, so `available + reserved + sold` is conserved by each statement on
 * its own, whatever happens between statements. Every statement is scoped to the context's tenant.
 */
export class ReservationRepository {
  constructor(private readonly ctx: DomainContext) {}

  /**
   * Holds `quantity` of one product for an order: the atomic conditional decrement and the reservation
   * row, in one statement. Returns false when nothing was reserved — not enough stock, or this order
   * already holds a reservation for the product (tell them apart with `statusOf`). Two concurrent calls
   * for the same order and product cannot both decrement: the second one's insert hits the unique
   * (order_id, product_id) key, which aborts its whole statement (decrement included).
   */
  async reserveLine(
    orderId: string,
    productId: string,
    quantity: number,
    ttlSeconds: number,
  ): Promise<boolean> {
    const rows = await this.ctx.em.execute<{ n: number }[]>(
      `with upd as (
         update inventory set available = available - ?, reserved = reserved + ?, updated_at = now()
         where product_id = ? and tenant_id = ? and available >= ?
           and not exists (select 1 from reservations where order_id = ? and product_id = ?)
         returning product_id
       ), ins as (
         insert into reservations (id, tenant_id, order_id, product_id, quantity, status, expires_at)
         select ?, ?, ?, product_id, ?, 'active', now() + make_interval(secs => ?) from upd
         returning id
       )
       select count(*)::int as n from ins`,
      [
        quantity,
        quantity,
        productId,
        this.ctx.tenantId,
        quantity,
        orderId,
        productId,
        newId(),
        this.ctx.tenantId,
        orderId,
        quantity,
        ttlSeconds,
      ],
    );
    return (rows[0]?.n ?? 0) === 1;
  }

  async statusOf(orderId: string, productId: string): Promise<ReservationStatus | undefined> {
    const rows = await this.ctx.em.execute<{ status: ReservationStatus }[]>(
      `select status from reservations where tenant_id = ? and order_id = ? and product_id = ?`,
      [this.ctx.tenantId, orderId, productId],
    );
    return rows[0]?.status;
  }

  async available(productId: string): Promise<number> {
    const rows = await this.ctx.em.execute<{ available: number }[]>(
      `select available from inventory where tenant_id = ? and product_id = ?`,
      [this.ctx.tenantId, productId],
    );
    return rows[0]?.available ?? 0;
  }

  /** The order's active reservations in product-id order (the lock order of every stock movement). */
  async listActive(orderId: string): Promise<ActiveReservation[]> {
    const rows = await this.ctx.em.execute<{ id: string; product_id: string; quantity: number }[]>(
      `select id, product_id, quantity from reservations
       where tenant_id = ? and order_id = ? and status = 'active' order by product_id`,
      [this.ctx.tenantId, orderId],
    );
    return rows.map((row) => ({ id: row.id, productId: row.product_id, quantity: row.quantity }));
  }

  /**
   * Moves one active reservation to `released` (stock back to available) or `committed` (stock sold).
   * The status transition guards the stock change in the same statement, so running it twice, or
   * racing the sweeper, moves the stock once. Returns whether this call moved it.
   */
  async settle(reservationId: string, to: 'released' | 'committed'): Promise<boolean> {
    const stock =
      to === 'released'
        ? 'available = i.available + r.quantity, reserved = i.reserved - r.quantity'
        : 'sold = i.sold + r.quantity, reserved = i.reserved - r.quantity';
    const rows = await this.ctx.em.execute<{ product_id: string }[]>(
      `with r as (
         update reservations set status = ?, updated_at = now()
         where id = ? and tenant_id = ? and status = 'active'
         returning product_id, quantity
       )
       update inventory i set ${stock}, updated_at = now()
       from r where i.product_id = r.product_id and i.tenant_id = ?
       returning i.product_id`,
      [to, reservationId, this.ctx.tenantId, this.ctx.tenantId],
    );
    return rows.length > 0;
  }
}

/**
 * Orders holding active reservations past their expiry whose payment never completed. A system query
 * across tenants (the sweeper's), so it takes no DomainContext; each order is then handled in a
 * context of its own tenant.
 */
export async function findExpiredReservationOrders(
  em: EntityManager,
  limit: number,
  onlyTenantId?: string,
): Promise<ExpiredReservationOrder[]> {
  const rows = await em.execute<{ tenant_id: string; order_id: string }[]>(
    `select distinct r.tenant_id, r.order_id
     from reservations r join orders o on o.id = r.order_id and o.tenant_id = r.tenant_id
     where r.status = 'active' and r.expires_at < now() and o.status not in ('paid', 'confirmed')
       and (?::uuid is null or r.tenant_id = ?::uuid)
       -- Money taken means the order must be finalized, never expired: leave it to finalize (or the
       -- runbook's stuck-reservation procedure) instead of releasing stock with nobody refunding.
       and not exists (
         select 1 from payments p
         where p.order_id = r.order_id and p.tenant_id = r.tenant_id and p.status = 'succeeded'
       )
     limit ?`,
    [onlyTenantId ?? null, onlyTenantId ?? null, limit],
  );
  return rows.map((row) => ({ tenantId: row.tenant_id, orderId: row.order_id }));
}

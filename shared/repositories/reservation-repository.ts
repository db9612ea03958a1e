import type { EntityManager } from '@mikro-orm/postgresql';
import { runAutocommitStatement } from '../db/autocommit.js';
import { isInTransaction } from '../db/unit-of-work.js';
import type { DomainContext } from '../services/context.js';

export interface ActiveReservation {
  productId: string;
  quantity: number;
}

/** Why a reservation call took nothing: the first line it could not hold, and that product's stock. */
export interface ReservationStop {
  productId: string;
  /** `insufficient`: not enough stock. `released`: the order's reservation was released before. */
  reason: 'insufficient' | 'released';
  available: number;
}

interface StopRow {
  stopped_product_id: string;
  stopped_status: ReservationStop['reason'];
  stopped_available: number;
}

const RESERVE_STOCK = `select * from reserve_stock(p_tenant_id => $1, p_order_id => $2, p_products => $3::uuid[],
  p_quantities => $4::integer[], p_ttl_seconds => $5)`;

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
   * Holds every line for the order until `ttlSeconds` from now, in one statement (`reserve_stock`,
   * migration 0002): per line the reservation row plus the atomic conditional decrement; a line the
   * order already holds is skipped (a concurrent run for the same order waits for the first, then
   * skips). All or nothing: returns undefined when every line is held, else the line that stopped it,
   * and then this call has changed nothing. `lines` must be sorted by product id without duplicates
   * (the lock order; the function refuses anything else).
   */
  async reserve(
    orderId: string,
    lines: readonly { productId: string; quantity: number }[],
    ttlSeconds: number,
  ): Promise<ReservationStop | undefined> {
    const values = [
      this.ctx.tenantId,
      orderId,
      lines.map((line) => line.productId),
      lines.map((line) => line.quantity),
      ttlSeconds,
    ];
    // Atomic on its own, so outside a transaction it needs no EntityManager (runAutocommitStatement:
    // about half the client CPU of em.execute, the bulk of a reservation's cost under load). Inside
    // one it must join it, so that the caller's rollback undoes it too.
    const rows = isInTransaction(this.ctx.em)
      ? await this.ctx.em.execute<StopRow[]>(
          `select * from reserve_stock(?, ?, array[?]::uuid[], array[?]::integer[], ?)`,
          values,
        )
      : await runAutocommitStatement<StopRow>(this.ctx.tenantId, { text: RESERVE_STOCK, values });
    const stop = rows[0];
    return stop
      ? { productId: stop.stopped_product_id, reason: stop.stopped_status, available: stop.stopped_available }
      : undefined;
  }

  /** The order's active reservations in product-id order (the lock order of every stock movement). */
  async listActive(orderId: string): Promise<ActiveReservation[]> {
    const rows = await this.ctx.em.execute<{ product_id: string; quantity: number }[]>(
      `select product_id, quantity from reservations
       where tenant_id = ? and order_id = ? and status = 'active' order by product_id`,
      [this.ctx.tenantId, orderId],
    );
    return rows.map((row) => ({ productId: row.product_id, quantity: row.quantity }));
  }

  /**
   * Moves the order's active reservation of one product to `released` (stock back to available) or
   * `committed` (stock sold). The status transition guards the stock change in the same statement, so
   * running it twice, or racing the sweeper, moves the stock once. Returns whether this call moved it.
   */
  async settle(orderId: string, productId: string, to: 'released' | 'committed'): Promise<boolean> {
    const stock =
      to === 'released'
        ? 'available = i.available + r.quantity, reserved = i.reserved - r.quantity'
        : 'sold = i.sold + r.quantity, reserved = i.reserved - r.quantity';
    const rows = await this.ctx.em.execute<{ product_id: string }[]>(
      `with r as (
         update reservations set status = ?, updated_at = now()
         where order_id = ? and product_id = ? and tenant_id = ? and status = 'active'
         returning product_id, quantity
       )
       update inventory i set ${stock}, updated_at = now()
       from r where i.product_id = r.product_id and i.tenant_id = ?
       returning i.product_id`,
      [to, orderId, productId, this.ctx.tenantId, this.ctx.tenantId],
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

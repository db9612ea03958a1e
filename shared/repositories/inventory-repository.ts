import type { DomainContext } from '../services/context.js';

export interface InventoryRow {
  product_id: string;
  available: number;
  reserved: number;
  sold: number;
}

export type StockMovementKind = 'reservation' | 'sale' | 'release' | 'restock' | 'adjustment';

export interface StockMovementRow {
  id: string;
  kind: StockMovementKind;
  on_hand_delta: number;
  reserved_delta: number;
  order_id: string | null;
  reason: string | null;
  actor_id: string | null;
  created_at: string;
}

/**
 * The admin's view of stock: the sellable quantity and the ledger of movements. Reservations and sales
 * (the checkout's conserved movements) live in reservation-repository.ts, and the ledger rows for them
 * are written by a trigger on `reservations` (migration 0006); the admin's changes here write their own.
 *
 * On-hand is available + reserved; "on-hand never below reserved" is therefore `available >= 0`, which
 * every statement here checks in its WHERE clause (a 409, not a constraint violation) and the table's
 * CHECK backs up.
 */
export class InventoryRepository {
  constructor(private readonly ctx: DomainContext) {}

  /**
   * Sets `available` of an active product of the tenant (creating the row if a product somehow has
   * none), and writes the difference to the ledger. Two statements in the caller's transaction: the
   * row is locked first so the recorded difference is exactly the one applied. Null when there is no
   * such active product.
   */
  async setAvailable(
    productId: string,
    quantity: number,
    reason = 'set',
  ): Promise<(InventoryRow & { before_available: number }) | null> {
    const before = await this.ctx.em.execute<{ available: number }[]>(
      'select available from inventory where product_id = ? and tenant_id = ? for update',
      [productId, this.ctx.tenantId],
    );
    const rows = await this.ctx.em.execute<InventoryRow[]>(
      `with up as (
         insert into inventory (product_id, tenant_id, available)
         select p.id, p.tenant_id, ? from products p
          where p.id = ? and p.tenant_id = ? and p.status = 'active'
         on conflict (product_id) do update set available = excluded.available, updated_at = now()
         returning product_id, tenant_id, available, reserved, sold
       ), m as (
         insert into stock_movements (tenant_id, product_id, kind, on_hand_delta, reserved_delta, reason, actor_id)
         select tenant_id, product_id, 'adjustment', available - ?::integer, 0, ?, ?::uuid from up
          where available <> ?::integer
       )
       select product_id, available, reserved, sold from up`,
      [
        quantity,
        productId,
        this.ctx.tenantId,
        before[0]?.available ?? 0,
        reason,
        this.ctx.principal?.userId ?? null,
        before[0]?.available ?? 0,
      ],
    );
    const row = rows[0];
    return row ? { ...row, before_available: Number(before[0]?.available ?? 0) } : null;
  }

  /**
   * Adds `delta` to on-hand (to `available`: reserved units are spoken for) with its ledger row, in ONE
   * statement, only while the result keeps on-hand at or above reserved. Null when the product is not
   * an active product of the tenant or the change would break that rule (the caller tells which).
   */
  async adjust(
    productId: string,
    delta: number,
    reason: string,
  ): Promise<(InventoryRow & { movement_id: string }) | null> {
    const rows = await this.ctx.em.execute<(InventoryRow & { movement_id: string })[]>(
      `with inv as (
         update inventory i set available = i.available + ?::integer, updated_at = now()
          where i.product_id = ? and i.tenant_id = ?
            and i.available::bigint + ? between 0 and 2147483647
            and exists (select 1 from products p
                         where p.id = i.product_id and p.tenant_id = i.tenant_id and p.status = 'active')
         returning i.product_id, i.tenant_id, i.available, i.reserved, i.sold
       ), m as (
         insert into stock_movements (tenant_id, product_id, kind, on_hand_delta, reserved_delta, reason, actor_id)
         select tenant_id, product_id, 'adjustment', ?::integer, 0, ?, ?::uuid from inv
         returning id
       )
       select inv.product_id, inv.available, inv.reserved, inv.sold, m.id::text as movement_id from inv, m`,
      [delta, productId, this.ctx.tenantId, delta, delta, reason, this.ctx.principal?.userId ?? null],
    );
    return rows[0] ?? null;
  }

  /** The stock of an active product of the tenant; null when there is none. */
  async find(productId: string): Promise<InventoryRow | null> {
    const rows = await this.ctx.em.execute<InventoryRow[]>(
      `select i.product_id, i.available, i.reserved, i.sold
         from inventory i join products p on p.id = i.product_id and p.tenant_id = i.tenant_id
        where i.product_id = ? and i.tenant_id = ? and p.status = 'active'`,
      [productId, this.ctx.tenantId],
    );
    return rows[0] ?? null;
  }

  /**
   * The newest ledger rows of the product, newest first. Ordered by the table's bigint id: a bare `id`
   * would name the text output column and sort 1000 before 999.
   */
  async movements(
    productId: string,
    limit: number,
    kinds?: readonly StockMovementKind[],
  ): Promise<StockMovementRow[]> {
    return this.ctx.em.execute<StockMovementRow[]>(
      `select id::text as id, kind, on_hand_delta, reserved_delta, order_id, reason, actor_id,
              to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at
         from stock_movements
        where product_id = ? and tenant_id = ? ${kinds ? 'and kind in (?)' : ''}
        order by stock_movements.id desc limit ?`,
      kinds ? [productId, this.ctx.tenantId, [...kinds], limit] : [productId, this.ctx.tenantId, limit],
    );
  }
}

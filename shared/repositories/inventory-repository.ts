import type { DomainContext } from '../services/context.js';

export interface InventoryRow {
  product_id: string;
  available: number;
  reserved: number;
  sold: number;
}

/**
 * The admin's view of stock: setting the sellable quantity. Reservations and sales (the checkout's
 * conserved movements) live in reservation-repository.ts; this never touches `reserved` or `sold`.
 */
export class InventoryRepository {
  constructor(private readonly ctx: DomainContext) {}

  /**
   * Sets `available` of an active product of the tenant in one statement (creating the row if a product
   * somehow has none). Null when there is no such active product.
   */
  async setAvailable(productId: string, quantity: number): Promise<InventoryRow | null> {
    const rows = await this.ctx.em.execute<InventoryRow[]>(
      `insert into inventory (product_id, tenant_id, available)
       select p.id, p.tenant_id, ? from products p
        where p.id = ? and p.tenant_id = ? and p.status = 'active'
       on conflict (product_id) do update set available = excluded.available, updated_at = now()
       returning product_id, available, reserved, sold`,
      [quantity, productId, this.ctx.tenantId],
    );
    return rows[0] ?? null;
  }
}

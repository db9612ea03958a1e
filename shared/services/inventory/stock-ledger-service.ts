import { ConflictException, ProductNotFoundException } from '../../errors/index.js';
import { InventoryRepository, type InventoryRow } from '../../repositories/inventory-repository.js';
import type { InventoryLedgerBody, StockAdjustmentBody } from '../../schemas/inventory.js';
import { isUuid } from '../../utils/ids.js';
import { nudgeAuditRelay } from '../audit/nudge.js';
import { AuditOutboxWriter } from '../audit/outbox.js';
import { invalidateProductStock } from '../catalog/catalog-cache.js';
import type { DomainContext } from '../context.js';

export class StockBelowReservedException extends ConflictException {
  override readonly type = 'stock-below-reserved';
  override readonly title = 'On-hand stock cannot drop below what is reserved';
  constructor(onHand: number, reserved: number) {
    super(`On-hand is ${onHand} with ${reserved} reserved: the adjustment would leave less than reserved.`);
    this.extensions.onHand = onHand;
    this.extensions.reserved = reserved;
  }
}

function levels(row: InventoryRow): { onHand: number; reserved: number; available: number } {
  const available = Number(row.available);
  const reserved = Number(row.reserved);
  return { onHand: available + reserved, reserved, available };
}

const RECENT = 20;

/**
 * Stock as a ledger for admins: every adjustment is one conditional statement that changes on-hand and
 * writes its ledger row (so on-hand never drops below reserved, however many adjust and reserve at once),
 * followed by its audit row (actor, before, after) in the same transaction.
 */
export class StockLedgerService {
  private readonly inventory: InventoryRepository;

  constructor(private readonly ctx: DomainContext) {
    this.inventory = new InventoryRepository(ctx);
  }

  async adjust(
    productId: string,
    delta: number,
    reason: string,
  ): Promise<{ result: StockAdjustmentBody; afterCommit: () => Promise<void> }> {
    if (!isUuid(productId)) throw new ProductNotFoundException();
    const row = await this.inventory.adjust(productId, delta, reason);
    if (!row) {
      const current = await this.inventory.find(productId);
      if (!current) throw new ProductNotFoundException();
      const now = levels(current);
      throw new StockBelowReservedException(now.onHand, now.reserved);
    }
    const after = levels(row);
    const before = {
      onHand: after.onHand - delta,
      reserved: after.reserved,
      available: after.available - delta,
    };
    await new AuditOutboxWriter(this.ctx).record({
      entity: 'stock',
      entityId: productId,
      action: 'adjustment',
      payload: { delta, reason, before, after },
    });
    const { tenantId, log } = this.ctx;
    return {
      result: { id: row.movement_id, productId, delta, reason, ...after },
      afterCommit: async () => {
        nudgeAuditRelay(log);
        await invalidateProductStock(tenantId, [productId], log);
      },
    };
  }

  async view(productId: string): Promise<InventoryLedgerBody> {
    const row = isUuid(productId) ? await this.inventory.find(productId) : null;
    if (!row) throw new ProductNotFoundException();
    const movements = await this.inventory.movements(productId, RECENT);
    return {
      productId,
      ...levels(row),
      sold: Number(row.sold),
      movements: movements.map((m) => ({
        id: m.id,
        kind: m.kind,
        onHandDelta: m.on_hand_delta,
        reservedDelta: m.reserved_delta,
        orderId: m.order_id,
        reason: m.reason,
        actorId: m.actor_id,
        createdAt: m.created_at,
      })),
    };
  }
}

import { runUnitOfWork } from '../../db/unit-of-work.js';
import type { Logger } from '../../logging/logger.js';
import type { OrderStatus } from '../../models/order.js';
import { findExpiredReservationOrders } from '../../repositories/reservation-repository.js';
import { nudgeAuditRelay } from '../audit/nudge.js';
import { invalidateProductStock } from '../catalog/catalog-cache.js';
import type { DomainContext } from '../context.js';
import { InventoryService } from '../inventory/inventory-service.js';
import { OrderLifecycle } from '../orders/order-lifecycle.js';

export interface SweepResult {
  orders: number;
  released: number;
}

/**
 * Releases reservations past their expiry whose order never got paid — an orchestration that died, a
 * host that lost its state — and closes those orders as `expired`. Each order is handled in its own
 * transaction that first locks the order row (as finalize does), so a sweep racing a payment either
 * sees the order paid and skips it, or expires it first and finalize then refunds. Releasing is the
 * same status-guarded statement the orchestration's compensation uses, so the two are idempotent
 * with each other: stock moves back exactly once.
 */
export interface SweepOptions {
  batchSize?: number;
  /** Sweep one tenant only (operations, tests); the timer sweeps every tenant. */
  tenantId?: string;
}

export async function sweepExpiredReservations(
  log: Logger,
  { batchSize = 200, tenantId: onlyTenantId }: SweepOptions = {},
): Promise<SweepResult> {
  const due = await runUnitOfWork('read', (em) => findExpiredReservationOrders(em, batchSize, onlyTenantId));
  let orders = 0;
  let released = 0;
  for (const { tenantId, orderId } of due) {
    const moved = await runUnitOfWork('write', async (em) => {
      const ctx: DomainContext = { em, tenantId, log, correlationId: `sweeper:${orderId}` };
      const rows = await em.execute<{ status: OrderStatus }[]>(
        `select status from orders where tenant_id = ? and id = ? for update`,
        [tenantId, orderId],
      );
      const status = rows[0]?.status;
      if (!status || status === 'paid' || status === 'confirmed') return [];
      if (await new OrderLifecycle(ctx).move(orderId, 'expired', 'reservation_expired')) orders++;
      return new InventoryService(ctx).release(orderId);
    });
    if (moved.length > 0) await invalidateProductStock(tenantId, moved, log);
    released += moved.length;
  }
  if (released > 0) {
    log.info(`reservation sweeper: released ${released} reservation(s), expired ${orders} order(s)`);
    nudgeAuditRelay(log);
  }
  return { orders, released };
}

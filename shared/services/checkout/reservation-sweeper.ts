import { runUnitOfWork } from '../../db/unit-of-work.js';
import { errorSummary } from '../../logging/error-summary.js';
import type { Logger } from '../../logging/logger.js';
import type { OrderStatus } from '../../models/order.js';
import { findPaidUnconfirmedOrders } from '../../repositories/order-repository.js';
import { findExpiredReservationOrders } from '../../repositories/reservation-repository.js';
import { nudgeAuditRelay } from '../audit/nudge.js';
import { invalidateProductStock } from '../catalog/catalog-cache.js';
import type { DomainContext } from '../context.js';
import { InventoryService } from '../inventory/inventory-service.js';
import { OrderLifecycle } from '../orders/order-lifecycle.js';
import { CheckoutSteps } from './checkout-steps.js';

export interface SweepResult {
  /** Orders closed as `expired` and reservations released. */
  orders: number;
  released: number;
  /** Charged orders whose orchestration never confirmed them, finalized by the sweep. */
  finalized: number;
  /** Orders the sweep could not handle this time (logged; the next sweep tries again). */
  failed: number;
}

export interface SweepOptions {
  batchSize?: number;
  /** Sweep one tenant only (operations, tests); the timer sweeps every tenant. */
  tenantId?: string;
  /** The checkout steps used to finalize charged orders (tests pass a fake gateway). */
  steps?: CheckoutSteps;
}

/**
 * The backstop for orchestrations that died or gave up — a host that lost its state, a finalize that
 * exhausted its retries during a long database outage. For orders holding reservations past their
 * expiry:
 * - charged (a succeeded payment): finalize them, exactly as the orchestration would — confirmed,
 *   stock committed, cart cleared, `order.confirmed` published — because the money has been taken;
 * - otherwise: release the reservations and close the order as `expired`. Each order is handled in its
 *   own transaction that first locks the order row (as finalize does), so a sweep racing a payment
 *   either sees the order paid and skips it, or expires it first and finalize then refunds.
 * Both paths are the same status-guarded statements the orchestration uses, so a sweep and a live
 * orchestration are idempotent with each other: stock moves exactly once. One order failing does not
 * stop the others.
 */
export async function sweepExpiredReservations(
  log: Logger,
  { batchSize = 200, tenantId: onlyTenantId, steps = new CheckoutSteps(log) }: SweepOptions = {},
): Promise<SweepResult> {
  const result: SweepResult = { orders: 0, released: 0, finalized: 0, failed: 0 };

  const charged = await runUnitOfWork('read', (em) => findPaidUnconfirmedOrders(em, batchSize, onlyTenantId));
  for (const { tenantId, orderId } of charged) {
    try {
      const done = await steps.finalize({ orderId, tenantId, paymentTimeoutSeconds: 0 });
      if (done.outcome === 'confirmed') result.finalized++;
    } catch (error) {
      result.failed++;
      log.warn(
        `reservation sweeper: finalizing charged order ${orderId} failed; next sweep retries`,
        errorSummary(error),
      );
    }
  }

  const due = await runUnitOfWork('read', (em) => findExpiredReservationOrders(em, batchSize, onlyTenantId));
  for (const { tenantId, orderId } of due) {
    try {
      const moved = await expire(log, tenantId, orderId);
      if (moved.expired) result.orders++;
      if (moved.released.length > 0) await invalidateProductStock(tenantId, moved.released, log);
      result.released += moved.released.length;
    } catch (error) {
      result.failed++;
      log.warn(
        `reservation sweeper: expiring order ${orderId} failed; next sweep retries`,
        errorSummary(error),
      );
    }
  }

  if (result.released > 0 || result.finalized > 0) {
    log.info(
      `reservation sweeper: released ${result.released} reservation(s), expired ${result.orders} order(s), finalized ${result.finalized} charged order(s)`,
    );
    nudgeAuditRelay(log);
  }
  return result;
}

async function expire(
  log: Logger,
  tenantId: string,
  orderId: string,
): Promise<{ expired: boolean; released: string[] }> {
  return runUnitOfWork('write', async (em) => {
    const ctx: DomainContext = { em, tenantId, log, correlationId: `sweeper:${orderId}` };
    const rows = await em.execute<{ status: OrderStatus }[]>(
      `select status from orders where tenant_id = ? and id = ? for update`,
      [tenantId, orderId],
    );
    const status = rows[0]?.status;
    if (!status || status === 'paid' || status === 'confirmed') return { expired: false, released: [] };
    const expired = await new OrderLifecycle(ctx).move(orderId, 'expired', 'reservation_expired');
    return { expired, released: await new InventoryService(ctx).release(orderId) };
  });
}

import { getSettings } from '../../../config/index.js';
import { InsufficientInventoryException } from '../../../errors/index.js';
import { readCommittedOrderWithLines } from '../../../repositories/order-repository.js';
import { nudgeAuditRelay } from '../../audit/nudge.js';
import { invalidateProductStock } from '../../catalog/catalog-cache.js';
import { InventoryService } from '../../inventory/inventory-service.js';
import { OrderLifecycle } from '../../orders/order-lifecycle.js';
import { TERMINAL_ORDER_STATUSES, isSoldOrder } from '../../orders/order-status.js';
import { closeOrder, type CloseOutcome } from '../close-order.js';
import type { CheckoutInput, CompensateInput, ReserveOutcome } from '../checkout-types.js';
import { committedOrder, recordCheckoutEnd, unit, type StepDeps } from './step-context.js';

/**
 * Step 1 — reserve ↔ release.
 * Action: pending → reserved, every line held until RESERVATION_TTL_SECONDS from now; or the order fails
 * with insufficient_inventory and holds nothing.
 * Compensation: closeOrder — the order closes as failed/expired and its stock goes back on sale, unless
 * the payment turns out taken (then it is finalized) or still settling (then it stays open).
 */
export async function reserveInventory(deps: StepDeps, input: CheckoutInput): Promise<ReserveOutcome> {
  // The lines come with the order (they never change after checkout): one read instead of two.
  const found = await readCommittedOrderWithLines(input.tenantId, input.orderId);
  if (!found) throw new Error(`order ${input.orderId} not found`);
  const { order, lines } = found;
  if (order.status === 'paid' || isSoldOrder(order.status)) return { outcome: 'paid' };
  if (TERMINAL_ORDER_STATUSES.includes(order.status)) return { outcome: 'closed', status: order.status };
  if (order.status !== 'pending') return { outcome: 'reserved' };

  const ttl = getSettings().RESERVATION_TTL_SECONDS;
  let products: string[];
  try {
    // No surrounding transaction: a one-line order's reservation is a single atomic statement that
    // holds the hot row's lock only while it runs; several lines get a transaction of their own.
    products = await unit(deps, 'autocommit', input, async (ctx) => {
      await new InventoryService(ctx).reserve(input.orderId, lines, ttl);
      return lines.map((line) => line.productId);
    });
  } catch (error) {
    if (!(error instanceof InsufficientInventoryException)) throw error;
    const moved = await unit(deps, 'autocommit', input, (ctx) =>
      new OrderLifecycle(ctx).move(input.orderId, 'failed', 'insufficient_inventory'),
    );
    if (moved) recordCheckoutEnd(order, 'failed');
    nudgeAuditRelay(deps.log);
    return { outcome: 'insufficient', productId: error.productId };
  }

  // Product pages show available stock: their cached details are stale now.
  await invalidateProductStock(input.tenantId, products, deps.log);
  const moved = await unit(deps, 'autocommit', input, (ctx) =>
    new OrderLifecycle(ctx).move(input.orderId, 'reserved'),
  );
  nudgeAuditRelay(deps.log);
  if (moved) return { outcome: 'reserved' };
  // Another run moved it, or someone closed the order meanwhile: then give the stock back rather than
  // hold it for nobody (the order is terminal already, so closeOrder only releases).
  const now = await committedOrder(input);
  if (!TERMINAL_ORDER_STATUSES.includes(now.status) || isSoldOrder(now.status))
    return { outcome: 'reserved' };
  await closeOrder(deps, input, 'failed', 'internal_error');
  return { outcome: 'closed', status: now.status };
}

/** The reservation's compensation. */
export function releaseInventory(deps: StepDeps, input: CompensateInput): Promise<CloseOutcome> {
  return closeOrder(deps, input, input.status, input.reason);
}

/**
 * Keeps the order's stock held while Stripe settles a `processing` payment: the reservation's expiry
 * moves to RESERVATION_TTL_SECONDS from now (never earlier than it was). Returns how many lines it held.
 */
export async function extendReservation(deps: StepDeps, input: CheckoutInput): Promise<number> {
  const ttl = getSettings().RESERVATION_TTL_SECONDS;
  return unit(deps, 'autocommit', input, async (ctx) => {
    const rows = await ctx.em.execute<{ product_id: string }[]>(
      `update reservations set expires_at = greatest(expires_at, now() + make_interval(secs => ?))
       where tenant_id = ? and order_id = ? and status = 'active' returning product_id`,
      [ttl, ctx.tenantId, input.orderId],
    );
    return rows.length;
  });
}

import { runUnitOfWork } from '../../db/unit-of-work.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { errorSummary } from '../../logging/error-summary.js';
import type { Logger } from '../../logging/logger.js';
import { findPaidUnconfirmedOrders } from '../../repositories/order-repository.js';
import { findExpiredReservationOrders } from '../../repositories/reservation-repository.js';
import { nudgeAuditRelay } from '../audit/nudge.js';
import { CheckoutSaga } from './checkout-saga.js';

export interface SweepResult {
  /** Orders closed as `expired` and reservations released. */
  orders: number;
  released: number;
  /** Charged orders whose orchestration never confirmed them, finalized by the sweep. */
  finalized: number;
  /** Payments refunded: charged orders that had already closed, or whose amount did not match. */
  refunded: number;
  /** Orders kept open because Stripe is still settling their payment (reservation extended). */
  processing: number;
  /** Orders the sweep could not handle this time (logged; the next sweep tries again). */
  failed: number;
}

export interface SweepOptions {
  batchSize?: number;
  /** Sweep one tenant only (operations, tests); the timer sweeps every tenant. */
  tenantId?: string;
  /** The saga whose steps the sweep runs (tests pass one with a fake gateway). */
  steps?: CheckoutSaga;
}

/** Closed orders whose payment succeeded anyway (e.g. 3-D Secure finished after expiry): refund them. */
async function findPaidClosedOrders(
  em: EntityManager,
  limit: number,
  onlyTenantId?: string,
): Promise<{ tenantId: string; orderId: string }[]> {
  const rows = await em.execute<{ tenant_id: string; order_id: string }[]>(
    `select o.tenant_id, o.id as order_id from orders o
     join payments p on p.order_id = o.id and p.tenant_id = o.tenant_id
     where p.status = 'succeeded' and o.status in ('failed', 'expired', 'cancelled')
       and (?::uuid is null or o.tenant_id = ?::uuid)
     limit ?`,
    [onlyTenantId ?? null, onlyTenantId ?? null, limit],
  );
  return rows.map((row) => ({ tenantId: row.tenant_id, orderId: row.order_id }));
}

/**
 * The backstop for orchestrations that died or gave up. It runs the saga's own steps, so a sweep and a
 * live orchestration are idempotent with each other:
 * - charged orders holding reservations past expiry: finalized, exactly as the orchestration would;
 * - closed orders whose payment succeeded anyway: refunded (a customer is never charged for nothing);
 * - other orders past expiry: the saga's compensations — the PaymentIntent cancelled (or, if it
 *   succeeded meanwhile, the order finalized), then closeOrder, which re-checks the payment under the
 *   order's row lock before it expires the order and releases the stock. A payment still `processing`
 *   keeps the order open and its reservation extended. A Stripe outage skips the order (the stock
 *   stays held) until a later sweep: stock is never released while money may still be taken.
 * One order failing does not stop the others.
 */
export async function sweepExpiredReservations(
  log: Logger,
  { batchSize = 200, tenantId: onlyTenantId, steps = new CheckoutSaga(log) }: SweepOptions = {},
): Promise<SweepResult> {
  const result: SweepResult = { orders: 0, released: 0, finalized: 0, refunded: 0, processing: 0, failed: 0 };
  const each = async (
    what: string,
    orders: { tenantId: string; orderId: string }[],
    handle: (input: { tenantId: string; orderId: string; paymentTimeoutSeconds: number }) => Promise<void>,
  ): Promise<void> => {
    for (const { tenantId, orderId } of orders) {
      try {
        await handle({ tenantId, orderId, paymentTimeoutSeconds: 0 });
      } catch (error) {
        result.failed++;
        log.warn(
          `reservation sweeper: ${what} order ${orderId} failed; next sweep retries`,
          errorSummary(error),
        );
      }
    }
  };

  const charged = await runUnitOfWork('read', (em) => findPaidUnconfirmedOrders(em, batchSize, onlyTenantId));
  await each('finalizing charged', charged, async (input) => {
    const done = await steps.finalize(input);
    if (done.outcome === 'confirmed') result.finalized++;
    if (done.outcome === 'refunded') result.refunded++;
  });

  const paidClosed = await runUnitOfWork('read', (em) => findPaidClosedOrders(em, batchSize, onlyTenantId));
  await each('refunding closed', paidClosed, async (input) => {
    const done = await steps.finalize(input);
    if (done.outcome === 'refunded') result.refunded++;
  });

  const due = await runUnitOfWork('read', (em) => findExpiredReservationOrders(em, batchSize, onlyTenantId));
  await each('expiring', due, async (input) => {
    const compensation = { ...input, status: 'expired' as const, reason: 'reservation_expired' as const };
    const undone = await steps.undoPaymentIntent(compensation);
    if (undone.outcome === 'payment_succeeded') {
      if ((await steps.finalize(input)).outcome === 'confirmed') result.finalized++;
      return;
    }
    if (undone.outcome === 'processing') {
      await steps.extendReservation(input);
      result.processing++;
      return;
    }
    const closed = await steps.release(compensation);
    if (closed.outcome === 'processing') {
      await steps.extendReservation(input);
      result.processing++;
    } else if (closed.outcome === 'payment_succeeded') {
      if ((await steps.finalize(input)).outcome === 'confirmed') result.finalized++;
    } else {
      if (closed.moved) result.orders++;
      result.released += closed.released.length;
    }
  });

  if (result.released > 0 || result.finalized > 0 || result.refunded > 0) {
    log.info(
      `reservation sweeper: released ${result.released} reservation(s), expired ${result.orders} order(s), ` +
        `finalized ${result.finalized} charged order(s), refunded ${result.refunded} payment(s)`,
    );
    nudgeAuditRelay(log);
  }
  return result;
}

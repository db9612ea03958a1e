import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { closeRedis } from '../../shared/cache/redis.js';
import { closeOrms } from '../../shared/db/orm.js';
import { silentLogger } from '../../shared/logging/logger.js';
import { sweepExpiredReservations } from '../../shared/services/checkout/reservation-sweeper.js';
import { getSettings } from '../../shared/config/index.js';
import { installRecordingBus } from '../support/recording-bus.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../fixtures/sample_data.js';
import { createUser } from '../fixtures/users.js';

/**
 * Regression for a finding of the fault suite:
 * the sweeper expired any order holding an expired reservation unless the ORDER was paid/confirmed,
 * without looking at the PAYMENT. With the PaymentIntent already succeeded (payments row `succeeded`,
 * written by confirm) and finalize not yet run — the orchestration stalled past the TTL, or failed for
 * good during a database outage — the order was expired and its stock released, and nobody refunded:
 * money taken, no order. Seen in faults.test.ts with the host's backends killed and a TTL shorter than
 * the host's activity lease. The sweeper now finalizes such an order (the orchestration's own finalize
 * step), so the customer gets what they paid for even when the orchestration is gone.
 */

afterAll(async () => {
  await closeRedis();
  await closeOrms();
  await closeTestPool();
});

describe('the reservation sweeper and an order whose payment already succeeded', () => {
  it('finalizes the charged order instead of expiring it with the money kept', async () => {
    const tenantId = (await createTenant('Sweeper shop')).id;
    const user = await createUser(tenantId);
    const product = await createProduct(tenantId, { stock: 5, priceCents: 1000 });
    const orderId = randomUUID();
    const db = testPool();
    await db.query(
      `insert into orders (id, tenant_id, user_id, status, total_cents, currency, idempotency_key, request_hash, payment_method_id)
       values ($1, $2, $3, 'awaiting_payment', 1000, 'USD', $4, 'h', 'pm_card_visa')`,
      [orderId, tenantId, user.id, randomUUID()],
    );
    await db.query(
      `insert into order_lines (id, tenant_id, order_id, product_id, name, quantity, unit_price_cents, line_total_cents)
       values ($1, $2, $3, $4, 'Thing', 1, 1000, 1000)`,
      [randomUUID(), tenantId, orderId, product.id],
    );
    // Reserved (and the reservation is past its expiry)…
    await db.query(
      `with r as (insert into reservations (id, tenant_id, order_id, product_id, quantity, status, expires_at)
         values ($1, $2, $3, $4, 1, 'active', now() - interval '1 minute') returning product_id, quantity)
       update inventory i set available = available - r.quantity, reserved = reserved + r.quantity
         from r where i.product_id = r.product_id`,
      [randomUUID(), tenantId, orderId, product.id],
    );
    // …and charged: the confirm step recorded the succeeded PaymentIntent; finalize never ran.
    await db.query(
      `insert into payments (id, tenant_id, order_id, payment_intent_id, status, amount_cents, currency)
       values ($1, $2, $3, $4, 'succeeded', 1000, 'USD')`,
      [randomUUID(), tenantId, orderId, `pi_${randomUUID().replace(/-/g, '')}`],
    );

    const bus = installRecordingBus();
    const sweep = await sweepExpiredReservations(silentLogger, { tenantId });
    expect(sweep).toMatchObject({ finalized: 1, orders: 0, released: 0, failed: 0 });

    // The sweeper finishes what finalize would have: confirmed, stock sold, the event published.
    const { rows } = await db.query<{ order: string; payment: string }>(
      `select o.status as order, p.status as payment from orders o join payments p on p.order_id = o.id where o.id = $1`,
      [orderId],
    );
    expect(rows[0]).toEqual({ order: 'confirmed', payment: 'succeeded' });
    const stock = await db.query<{ available: number; reserved: number; sold: number }>(
      `select available, reserved, sold from inventory where product_id = $1`,
      [product.id],
    );
    expect(stock.rows[0]).toEqual({ available: 4, reserved: 0, sold: 1 });
    expect(bus.on(getSettings().ORDER_EVENTS_QUEUE_NAME).map((m) => m.messageId)).toEqual([
      `${orderId}:confirmed`,
    ]);

    // Idempotent: a second sweep finds nothing to do.
    expect(await sweepExpiredReservations(silentLogger, { tenantId })).toMatchObject({
      finalized: 0,
      orders: 0,
      released: 0,
    });
    expect(stock.rows[0]).toEqual(
      (await db.query(`select available, reserved, sold from inventory where product_id = $1`, [product.id]))
        .rows[0],
    );
  });
});

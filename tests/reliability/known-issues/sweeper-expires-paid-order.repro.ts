import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { closeRedis } from '../../../shared/cache/redis.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { sweepExpiredReservations } from '../../../shared/services/checkout/reservation-sweeper.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../../fixtures/sample_data.js';
import { createUser } from '../../fixtures/users.js';

/**
 * Finding (shared/services/checkout/reservation-sweeper.ts + functions/checkout/orchestrator.ts):
 * the sweeper expires any order holding an expired reservation unless the ORDER is paid/confirmed — it
 * does not look at the PAYMENT. When the customer's PaymentIntent already succeeded (payments row
 * `succeeded`, written by the confirm step) but finalize never ran — the orchestration stalled past the
 * reservation TTL, or failed for good because finalize exhausted its 5 attempts during a database outage
 * (finalize is not wrapped in try/catch, so the instance fails) — the sweeper expires the order and
 * releases the stock, and nobody refunds: money taken, no order. Seen in faults.test.ts with the
 * host's backends killed (two orders `expired/reservation_expired` with a succeeded, unrefunded
 * PaymentIntent at the fake Stripe).
 * Expected: the sweeper skips (or finalizes) an order whose payment succeeded, or refunds it.
 *
 * Fixed: the sweeper now skips orders whose payment succeeded (shared/repositories/reservation-repository.ts).
 * Still kept out of `npm test` (not a *.test.ts file): it runs the sweeper across all tenants, which would
 * act on rows that test files running in parallel are asserting about. To run it, copy it next to itself under a
 * *.test.ts name and `npx vitest run` that file.
 */

afterAll(async () => {
  await closeRedis();
  await closeOrms();
  await closeTestPool();
});

describe('finding: the reservation sweeper expires an order whose payment already succeeded', () => {
  it('leaves a paid order alone (or refunds it), never "expired" with the money kept', async () => {
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

    await sweepExpiredReservations(silentLogger);

    const { rows } = await db.query<{ order: string; payment: string }>(
      `select o.status as order, p.status as payment from orders o join payments p on p.order_id = o.id where o.id = $1`,
      [orderId],
    );
    const state = rows[0]!;
    // Acceptable: still awaiting finalize (skipped), confirmed (finalized), or expired WITH a refund.
    const moneyKeptWithoutOrder = state.order === 'expired' && state.payment === 'succeeded';
    expect(moneyKeptWithoutOrder, JSON.stringify(state)).toBe(false);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeRedis } from '../../shared/cache/redis.js';
import { closeOrms } from '../../shared/db/orm.js';
import { silentLogger } from '../../shared/logging/logger.js';
import { getOrderEventRelay, stableEventId } from '../../shared/services/orders/order-events.js';
import { CheckoutSaga } from '../../shared/services/checkout/checkout-saga.js';
import type { CheckoutInput } from '../../shared/services/checkout/checkout-types.js';
import { sweepExpiredReservations } from '../../shared/services/checkout/reservation-sweeper.js';
import { resetStripeClientForTests } from '../../shared/services/payments/stripe-client.js';
import { getSettings, resetSettingsForTests } from '../../shared/config/index.js';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { installRecordingBus } from '../support/recording-bus.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../fixtures/sample_data.js';
import { createUser } from '../fixtures/users.js';
import { expectInvariants, insertOrder } from '../integration/checkout/helpers.js';

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

let fake: FakeStripe;

/**
 * An order reserved past its expiry and charged (payment `succeeded`), whose finalize never ran. Made by
 * the saga's own first steps against the fake Stripe, so the order, its reservation and stock ledger,
 * its payment, the PaymentIntent that holds the money and the audit rows are what a real checkout
 * leaves when its orchestration stalls after confirm; only the clock is moved (the expiry backdated).
 */
async function chargedOrderPastExpiry(tenantId: string, userId: string, productId: string): Promise<string> {
  const orderId = await insertOrder(tenantId, userId, [{ productId, quantity: 1, unitPriceCents: 1000 }]);
  const input = { orderId, tenantId, paymentTimeoutSeconds: 900 };
  const saga = new CheckoutSaga(silentLogger);
  expect(await saga.reserve(input)).toEqual({ outcome: 'reserved' });
  const created = await saga.createIntent(input);
  if (created.outcome !== 'created') throw new Error(`no intent: ${JSON.stringify(created)}`);
  expect(await saga.confirm({ ...input, paymentIntentId: created.paymentIntentId })).toMatchObject({
    outcome: 'succeeded',
  });
  await testPool().query(
    `update reservations set expires_at = now() - interval '1 minute' where order_id = $1`,
    [orderId],
  );
  return orderId;
}

beforeAll(async () => {
  fake = await startFakeStripe({ webhookSecret: process.env.STRIPE_WEBHOOK_SECRET! });
  process.env.STRIPE_API_BASE = fake.url;
  resetSettingsForTests();
  resetStripeClientForTests();
});

afterAll(async () => {
  await fake.close();
  await closeRedis();
  await closeOrms();
  await closeTestPool();
});

describe('the reservation sweeper and an order whose payment already succeeded', () => {
  it('finalizes the charged order instead of expiring it with the money kept', async () => {
    const tenantId = (await createTenant('Sweeper shop')).id;
    const user = await createUser(tenantId);
    const product = await createProduct(tenantId, { stock: 5, priceCents: 1000 });
    const orderId = await chargedOrderPastExpiry(tenantId, user.id, product.id);
    const db = testPool();

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
    // order.confirmed committed with the confirmation (the order-events outbox); the relay sends it.
    await getOrderEventRelay().drain();
    const sent = bus
      .on(getSettings().ORDER_EVENTS_QUEUE_NAME)
      .filter((m) => (m.body as { orderId?: string }).orderId === orderId);
    expect(sent.map((m) => m.messageId)).toEqual([stableEventId(orderId, 'order.confirmed')]);

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
    // The customer paid and got the order: the money at Stripe, the sale and the audit trail agree.
    await expectInvariants([tenantId], { fake });
  });

  it('one order failing does not stop the others; the next sweep retries it', async () => {
    const tenantId = (await createTenant('Sweeper failures shop')).id;
    const user = await createUser(tenantId);
    const product = await createProduct(tenantId, { stock: 5, priceCents: 1000 });
    const unlucky = await chargedOrderPastExpiry(tenantId, user.id, product.id);
    const lucky = await chargedOrderPastExpiry(tenantId, user.id, product.id);
    installRecordingBus();

    const warnings: unknown[][] = [];
    const log = { ...silentLogger, warn: (...args: unknown[]) => void warnings.push(args) };
    const real = new CheckoutSaga(log);
    const flaky = Object.assign(Object.create(real) as CheckoutSaga, {
      finalize: (input: CheckoutInput) =>
        input.orderId === unlucky
          ? Promise.reject(new Error('connection terminated unexpectedly'))
          : real.finalize(input),
    });

    expect(await sweepExpiredReservations(log, { tenantId, steps: flaky })).toMatchObject({
      finalized: 1,
      failed: 1,
    });
    const statuses = async (): Promise<Record<string, string>> => {
      const { rows } = await testPool().query<{ id: string; status: string }>(
        'select id, status from orders where id = any($1)',
        [[unlucky, lucky]],
      );
      return Object.fromEntries(rows.map((row) => [row.id, row.status]));
    };
    expect(await statuses()).toEqual({ [unlucky]: 'awaiting_payment', [lucky]: 'confirmed' });
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]![0])).toContain(unlucky);

    // The failed order is still charged and past its expiry: the next sweep finalizes it.
    expect(await sweepExpiredReservations(log, { tenantId })).toMatchObject({ finalized: 1, failed: 0 });
    expect(await statuses()).toEqual({ [unlucky]: 'confirmed', [lucky]: 'confirmed' });
    await expectInvariants([tenantId], { fake });
  });
});

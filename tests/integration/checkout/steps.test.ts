import { beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { getOrder } from '../../../functions/orders.js';
import { getRedis, whenReady } from '../../../shared/cache/redis.js';
import { catalogKeys } from '../../../shared/services/catalog/catalog-cache.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { CheckoutSaga } from '../../../shared/services/checkout/checkout-saga.js';
import type { CheckoutInput, ConfirmOutcome } from '../../../shared/services/checkout/checkout-types.js';
import { TransientPaymentError } from '../../../shared/services/payments/payment-errors.js';
import { addTelemetrySink } from '../../../shared/telemetry/index.js';
import { useFakeStripe } from '../../support/fake-stripe.js';
import { invoke } from '../../support/http.js';
import { OrderEventRelay, stableEventId } from '../../../shared/services/orders/order-events.js';
import { createProduct, testPool, type CreatedProduct } from '../../fixtures/sample_data.js';
import { authHeaders, type TestUser } from '../../fixtures/users.js';
import { newOrder as newOrderOf, reserveAndCreate } from '../orders/paid-orders.js';
import {
  cartLines,
  insertOrder,
  openShop,
  orderRow,
  paymentRow,
  reservationStatuses,
  stockOf,
  invariantsAfterEachTest,
  type Buyer,
} from './helpers.js';

const { fake, bus } = useFakeStripe({ eachTest: 'reset' });
let tenantId: string;
let user: TestUser;
let product: CreatedProduct;
let buyer: Buyer;
const events: { name: string; properties?: Record<string, string> }[] = [];
const metrics: { name: string; value: number }[] = [];
const steps = new CheckoutSaga(silentLogger);

beforeAll(async () => {
  addTelemetrySink({
    event: (name, properties) => events.push({ name, ...(properties ? { properties } : {}) }),
    metric: (name, value) => metrics.push({ name, value }),
  });
  ({
    tenantId,
    customer: user,
    product,
    buyer,
  } = await openShop('Steps shop', { stock: 50, priceCents: 1500 }));
});

// The shared oracle (tests/support/invariants.ts) over each test's orders, before the fake forgets them.
const invariants = invariantsAfterEachTest(() => [tenantId], fake);

const newOrder = (quantity: number, pm?: string): Promise<CheckoutInput> => newOrderOf(buyer, pm, quantity);

async function auditActions(orderId: string): Promise<string[]> {
  const { rows } = await testPool().query<{ action: string }>(
    `select entity || ':' || action as action from audit_outbox
     where entity_id = $1::uuid or payload->>'orderId' = $1::text order by created_at, action`,
    [orderId],
  );
  return rows.map((r) => r.action);
}

describe('checkout steps against the fake Stripe', () => {
  it('happy path, every step run twice: confirmed, stock sold, cart cleared, one PaymentIntent, one event', async () => {
    const before = await stockOf(product.id);
    const input = await newOrder(2);
    const generation = async (): Promise<number> => {
      const redis = getRedis();
      await whenReady(redis, 2_000);
      return Number((await redis.get(catalogKeys.productGeneration(tenantId, product.id))) ?? 0);
    };
    const generationBefore = await generation();
    const pi = await reserveAndCreate(input);
    // The product's cached detail (which shows available stock) was invalidated by the reservation.
    expect(await generation()).toBeGreaterThan(generationBefore);
    expect(await steps.reserve(input)).toEqual({ outcome: 'reserved' });
    expect(await steps.createIntent(input)).toEqual({ outcome: 'created', paymentIntentId: pi });
    const confirm = { ...input, paymentIntentId: pi };
    expect(await steps.confirm(confirm)).toEqual({ outcome: 'succeeded' });
    expect(await steps.confirm(confirm)).toEqual({ outcome: 'succeeded' });
    expect(await steps.finalize(input)).toEqual({ outcome: 'confirmed' });
    expect(await steps.finalize(input)).toEqual({ outcome: 'confirmed' });

    expect((await orderRow(input.orderId)).status).toBe('confirmed');
    expect(await reservationStatuses(input.orderId)).toEqual(['committed']);
    expect(await stockOf(product.id)).toEqual({
      available: before.available - 2,
      reserved: before.reserved,
      sold: before.sold + 2,
    });
    expect(await cartLines(tenantId, user.id)).toEqual([]);
    const payment = await paymentRow(input.orderId);
    expect(payment).toMatchObject({
      status: 'succeeded',
      payment_intent_id: pi,
      client_secret: null,
      amount_cents: '3000',
    });

    const intents = fake().paymentIntents();
    expect(intents).toHaveLength(1);
    expect(intents[0]).toMatchObject({
      id: pi,
      amount: 3000,
      currency: 'usd',
      status: 'succeeded',
      metadata: { orderId: input.orderId, tenantId },
    });
    const keys = fake()
      .requests()
      .map((r) => r.idempotencyKey)
      .filter(Boolean);
    expect(new Set(keys)).toEqual(new Set([`${input.orderId}:create`, `${input.orderId}:confirm`]));

    // order.confirmed leaves through the order-events outbox (issue #18): written once, whatever re-ran.
    await new OrderEventRelay(bus).drain();
    const eventId = stableEventId(input.orderId, 'order.confirmed');
    const published = bus()
      .on('order-events')
      .filter((m) => m.messageId === eventId);
    expect(published).toHaveLength(1);
    expect(published[0]!.body).toMatchObject({
      eventId,
      type: 'order.confirmed',
      tenantId,
      orderId: input.orderId,
      data: { totalCents: 3000 },
    });
    expect(metrics.some((m) => m.name === 'CheckoutDurationMs' && m.value >= 0)).toBe(true);

    expect(await auditActions(input.orderId)).toEqual(
      expect.arrayContaining([
        'order:status:reserved',
        'order:status:awaiting_payment',
        'payment:opened',
        'payment:intent_created',
        'payment:status:succeeded',
        'order:status:paid',
        'order:status:confirmed',
      ]),
    );
    // Re-runs wrote no second audit row for any transition.
    const actions = await auditActions(input.orderId);
    expect(actions.length).toBe(new Set(actions).size);
  });

  it('decline: outcome (not an error), then compensation fails the order, restores stock, cancels the intent, emits PaymentFailed', async () => {
    const before = await stockOf(product.id);
    const input = await newOrder(3, 'pm_card_chargeDeclined');
    const pi = await reserveAndCreate(input);
    expect((await stockOf(product.id)).available).toBe(before.available - 3);
    const outcome = await steps.confirm({ ...input, paymentIntentId: pi });
    expect(outcome).toEqual({ outcome: 'declined', code: 'generic_decline' });
    expect(await steps.compensate({ ...input, status: 'failed', reason: 'payment_declined' })).toEqual({
      outcome: 'undone',
    });
    expect(await steps.compensate({ ...input, status: 'failed', reason: 'payment_declined' })).toEqual({
      outcome: 'undone',
    });
    expect(await orderRow(input.orderId)).toMatchObject({
      status: 'failed',
      failure_reason: 'payment_declined',
    });
    expect(await stockOf(product.id)).toEqual(before);
    expect(await reservationStatuses(input.orderId)).toEqual(['released']);
    expect(
      fake()
        .paymentIntents()
        .find((p) => p.id === pi)?.status,
    ).toBe('canceled');
    expect(await paymentRow(input.orderId)).toMatchObject({
      status: 'failed',
      last_error: 'generic_decline',
    });
    const failures = events.filter(
      (e) => e.name === 'PaymentFailed' && e.properties?.orderId === input.orderId,
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]!.properties).toMatchObject({ reason: 'payment_declined', tenantId });
    // The cart stays intact when checkout fails.
    expect(await cartLines(tenantId, user.id)).toEqual([{ productId: product.id, quantity: 3 }]);
  });

  it('requires_action: the order shows the clientSecret; a timeout expires it and restores stock', async () => {
    const before = await stockOf(product.id);
    const input = await newOrder(1, 'pm_card_authenticationRequired');
    const pi = await reserveAndCreate(input);
    const outcome: ConfirmOutcome = await steps.confirm({ ...input, paymentIntentId: pi });
    expect(outcome).toEqual({ outcome: 'requires_action' });
    expect((await orderRow(input.orderId)).status).toBe('requires_action');

    const res = await invoke(getOrder, {
      headers: await authHeaders(user),
      params: { id: input.orderId },
    });
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('requires_action');
    expect(res.json.clientSecret).toBe(
      fake()
        .paymentIntents()
        .find((p) => p.id === pi)?.client_secret,
    );
    expect(res.json.payment).toEqual({
      status: 'requires_action',
      paymentIntentId: pi,
      refundedCents: 0,
      disputed: false,
    });

    expect(await steps.compensate({ ...input, status: 'expired', reason: 'payment_timeout' })).toEqual({
      outcome: 'undone',
    });
    expect(await orderRow(input.orderId)).toMatchObject({
      status: 'expired',
      failure_reason: 'payment_timeout',
    });
    expect(await stockOf(product.id)).toEqual(before);
    expect(await paymentRow(input.orderId)).toMatchObject({ status: 'canceled', client_secret: null });
    const after = await invoke(getOrder, { headers: await authHeaders(user), params: { id: input.orderId } });
    expect(after.json.clientSecret).toBeUndefined();
    expect(after.json.failureReason).toBe('payment_timeout');
  });

  it('a payment that completes as the timer fires is kept: compensation reports it and finalize confirms', async () => {
    const input = await newOrder(1, 'pm_card_authenticationRequired');
    const pi = await reserveAndCreate(input);
    await steps.confirm({ ...input, paymentIntentId: pi });
    await fake().completeAuthentication(pi, 'succeed');
    expect(await steps.compensate({ ...input, status: 'expired', reason: 'payment_timeout' })).toEqual({
      outcome: 'payment_succeeded',
    });
    expect(await steps.finalize(input)).toEqual({ outcome: 'confirmed' });
    expect((await orderRow(input.orderId)).status).toBe('confirmed');
    expect(await reservationStatuses(input.orderId)).toEqual(['committed']);
  });

  it('Stripe 500 on create: a transient error (retried by the orchestration), then one intent', async () => {
    const input = await newOrder(1);
    expect(await steps.reserve(input)).toEqual({ outcome: 'reserved' });
    fake().injectFault({ method: 'POST', path: '/v1/payment_intents', kind: 'error', status: 500, times: 1 });
    await expect(steps.createIntent(input)).rejects.toBeInstanceOf(TransientPaymentError);
    const created = await steps.createIntent(input);
    expect(created.outcome).toBe('created');
    expect(fake().paymentIntents()).toHaveLength(1);
    // A 500 *after* Stripe did the work: the retry replays the stored answer, still one intent.
    const other = await newOrder(1);
    await steps.reserve(other);
    fake().injectFault({
      method: 'POST',
      path: '/v1/payment_intents',
      kind: 'error',
      status: 500,
      when: 'after',
    });
    await expect(steps.createIntent(other)).rejects.toBeInstanceOf(TransientPaymentError);
    expect((await steps.createIntent(other)).outcome).toBe('created');
    expect(fake().paymentIntents()).toHaveLength(2);
  });

  it('insufficient stock: the order fails with insufficient_inventory and holds nothing', async () => {
    const scarce = await createProduct(tenantId, { stock: 1 });
    const orderId = await insertOrder(tenantId, user.id, [{ productId: scarce.id, quantity: 2 }]);
    const input = { orderId, tenantId, paymentTimeoutSeconds: 900 };
    expect(await steps.reserve(input)).toEqual({ outcome: 'insufficient', productId: scarce.id });
    expect(await orderRow(orderId)).toMatchObject({
      status: 'failed',
      failure_reason: 'insufficient_inventory',
    });
    expect(await stockOf(scarce.id)).toEqual({ available: 1, reserved: 0, sold: 0 });
    expect(await steps.reserve(input)).toEqual({ outcome: 'closed', status: 'failed' });
  });

  it('paid after the sweeper expired the order: the payment is refunded, the order stays expired', async () => {
    invariants.forged(); // expired by SQL, standing in for the sweeper
    const before = await stockOf(product.id);
    const input = await newOrder(1);
    const pi = await reserveAndCreate(input);
    await steps.confirm({ ...input, paymentIntentId: pi });
    // The sweeper got there first (its own transaction: order expired + stock released).
    await testPool().query(
      `update orders set status = 'expired', failure_reason = 'reservation_expired' where id = $1`,
      [input.orderId],
    );
    await testPool().query(
      `with r as (update reservations set status = 'released' where order_id = $1 and status = 'active' returning product_id, quantity)
       update inventory i set available = i.available + r.quantity, reserved = i.reserved - r.quantity from r where i.product_id = r.product_id`,
      [input.orderId],
    );
    expect(await steps.finalize(input)).toEqual({ outcome: 'refunded' });
    expect(await steps.finalize(input)).toEqual({ outcome: 'refunded' });
    expect((await orderRow(input.orderId)).status).toBe('expired');
    expect(await paymentRow(input.orderId)).toMatchObject({ status: 'refunded' });
    expect(await stockOf(product.id)).toEqual(before);
    const refunds = fake()
      .requests()
      .filter((r) => r.path === '/v1/refunds' && r.method === 'POST');
    expect(refunds.length).toBeGreaterThanOrEqual(1);
    expect(new Set(refunds.map((r) => r.idempotencyKey))).toEqual(new Set([`${input.orderId}:refund`]));
  });

  it('an unknown PaymentMethod is a final rejection, not a retry', async () => {
    const input = await newOrder(1, `pm_card_${randomUUID().slice(0, 8)}`);
    const pi = await reserveAndCreate(input);
    const outcome = await steps.confirm({ ...input, paymentIntentId: pi });
    expect(outcome.outcome).toBe('rejected');
  });
});

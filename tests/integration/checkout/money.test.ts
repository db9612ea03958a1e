import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/logging/logger.js';
import { CheckoutSaga } from '../../../shared/services/checkout/checkout-saga.js';
import { sweepExpiredReservations } from '../../../shared/services/checkout/reservation-sweeper.js';
import { addTelemetrySink } from '../../../shared/telemetry/index.js';
import { testPool, type CreatedProduct } from '../../fixtures/sample_data.js';
import { useFakeStripe } from '../../support/fake-stripe.js';
import { moneyAt, newOrder as newOrderOf, upToConfirm as upToConfirmOf } from '../orders/paid-orders.js';
import {
  expireReservation,
  openShop,
  orderRow,
  paymentRow,
  reservationStatuses,
  stockOf,
  invariantsAfterEachTest,
  type Buyer,
} from './helpers.js';

/**
 * The money scenarios of issue #17, one test each, against the fake Stripe behaving as Stripe does
 * (saved 5xx, processing, non-final failures, late 3-D Secure). Invariant checked throughout: for the
 * order's PaymentIntent, captured − refunded is the order total when the order is confirmed, else 0.
 */

const stripeAt = useFakeStripe({ apiKey: 'sk_test_money', eachTest: 'reset' });
const { fake, stripe } = stripeAt;
const { netCharged, expectMoneyInvariant } = moneyAt(stripeAt);
let tenantId: string;
let product: CreatedProduct;
let buyer: Buyer;
const events: { name: string; properties?: Record<string, string> }[] = [];
const metrics: { name: string; properties?: Record<string, string> }[] = [];
const saga = new CheckoutSaga(silentLogger);

beforeAll(async () => {
  addTelemetrySink({
    event: (name, properties) => events.push({ name, ...(properties ? { properties } : {}) }),
    metric: (name, _value, properties) => metrics.push({ name, ...(properties ? { properties } : {}) }),
  });
  ({ tenantId, product, buyer } = await openShop('Money shop', { stock: 100, priceCents: 8400 }));
});

// The shared oracle (tests/support/invariants.ts) over each test's orders, before the fake forgets them.
const invariants = invariantsAfterEachTest(() => [tenantId], fake);

const newOrder = (pm: string) => newOrderOf(buyer, pm);
const upToConfirm = (pm: string) => upToConfirmOf(buyer, pm);

describe('money rules', () => {
  it('CheckoutDurationMs is emitted once per terminal state, with its outcome', async () => {
    const outcomes = (): string[] =>
      metrics.filter((m) => m.name === 'CheckoutDurationMs').map((m) => m.properties?.outcome ?? '');
    const before = outcomes().length;
    const paid = await upToConfirm('pm_card_visa');
    await saga.finalize(paid.input);
    await saga.finalize(paid.input);
    const declined = await upToConfirm('pm_card_chargeDeclined');
    await saga.compensate({ ...declined.input, status: 'failed', reason: 'payment_declined' });
    await saga.compensate({ ...declined.input, status: 'failed', reason: 'payment_declined' });
    expect(outcomes().slice(before)).toEqual(['confirmed', 'failed']);
  });

  it('finalize re-run on a shipped order reports the sale and refunds nothing (a replay, the sweeper, reconciliation)', async () => {
    invariants.forged(); // shipped by SQL, no audit row: the replay would rightly refuse it
    const { input, pi } = await upToConfirm('pm_card_visa');
    expect(await saga.finalize(input)).toEqual({ outcome: 'confirmed' });
    await testPool().query(`update orders set status = 'shipped' where id = $1`, [input.orderId]);
    expect(await saga.finalize(input)).toEqual({ outcome: 'confirmed' });
    expect(
      await saga.compensate({ ...input, status: 'expired', reason: 'reservation_expired' }),
    ).toMatchObject({ outcome: 'payment_succeeded' });
    expect((await orderRow(input.orderId)).status).toBe('shipped');
    expect(await netCharged(pi)).toBe(8400);
  });

  it('a PaymentUpdated event without a payment (forged) confirms nothing: finalize checks Stripe', async () => {
    const { input, pi } = await upToConfirm('pm_card_authenticationRequired');
    expect(await saga.finalize(input)).toEqual({ outcome: 'not_paid' });
    expect((await orderRow(input.orderId)).status).toBe('requires_action');
    expect((await paymentRow(input.orderId))?.status).toBe('requires_action');
    expect(await reservationStatuses(input.orderId)).toEqual(['active']);
    // Stripe was asked, not the event.
    expect(
      fake()
        .requests()
        .some((r) => r.method === 'GET' && r.path === `/v1/payment_intents/${pi}`),
    ).toBe(true);
    await expectMoneyInvariant(input, pi);
  });

  it('the sweeper cancels the intent before expiring the order (84.00 case): late 3-D Secure cannot charge', async () => {
    const before = await stockOf(product.id);
    const { input, pi } = await upToConfirm('pm_card_authenticationRequired');
    // Stripe's cancel keeps answering a saved 500 under the step's key.
    fake().injectFault({
      method: 'POST',
      path: '/v1/payment_intents/*/cancel',
      status: 500,
      when: 'saved-before',
    });
    await expireReservation(input.orderId);
    const sweep = await sweepExpiredReservations(silentLogger, { tenantId });
    expect(sweep).toMatchObject({ orders: 1, released: 1, failed: 0 });
    expect(
      fake()
        .paymentIntents()
        .find((p) => p.id === pi)?.status,
    ).toBe('canceled');
    const cancels = fake()
      .requests()
      .filter((r) => r.path === `/v1/payment_intents/${pi}/cancel`);
    expect(cancels.map((r) => r.idempotencyKey)).toEqual([
      `${input.orderId}:cancel`,
      expect.stringMatching(new RegExp(`^${input.orderId}:cancel:`)),
    ]);
    // The customer finishes 3-D Secure afterwards: Stripe refuses, nothing is taken.
    await expect(fake().completeAuthentication(pi, 'succeed')).rejects.toThrow();
    expect(await orderRow(input.orderId)).toMatchObject({
      status: 'expired',
      failure_reason: 'reservation_expired',
    });
    expect(await stockOf(product.id)).toEqual(before);
    await expectMoneyInvariant(input, pi);
  });

  it('while Stripe cannot cancel at all, the sweeper keeps the stock held and the order open', async () => {
    const { input, pi } = await upToConfirm('pm_card_authenticationRequired');
    fake().injectFault({ method: 'POST', path: '/v1/payment_intents/*/cancel', status: 500, times: 2 });
    await expireReservation(input.orderId);
    expect(await sweepExpiredReservations(silentLogger, { tenantId })).toMatchObject({
      failed: 1,
      released: 0,
    });
    expect((await orderRow(input.orderId)).status).toBe('requires_action');
    expect(await reservationStatuses(input.orderId)).toEqual(['active']);
    // Customer completes 3-D Secure meanwhile: the next sweep keeps the sale.
    await fake().completeAuthentication(pi, 'succeed');
    expect(await sweepExpiredReservations(silentLogger, { tenantId })).toMatchObject({ finalized: 1 });
    expect((await orderRow(input.orderId)).status).toBe('confirmed');
    await expectMoneyInvariant(input, pi);
  });

  it('closeOrder re-reads the payment under the order lock: a success recorded meanwhile keeps the order', async () => {
    invariants.forged(); // a success written by SQL without its audit row
    const { input, pi } = await upToConfirm('pm_card_authenticationRequired');
    // The customer passes 3-D Secure and the webhook records it just before the sweeper closes the order.
    await fake().completeAuthentication(pi, 'succeed');
    await testPool().query(`update payments set status = 'succeeded' where order_id = $1`, [input.orderId]);
    expect(await saga.release({ ...input, status: 'expired', reason: 'reservation_expired' })).toEqual({
      outcome: 'payment_succeeded',
    });
    expect((await orderRow(input.orderId)).status).toBe('requires_action');
    expect(await reservationStatuses(input.orderId)).toEqual(['active']);
    expect(await saga.finalize(input)).toEqual({ outcome: 'confirmed' });
    await expectMoneyInvariant(input, pi);
  });

  it('a closed order whose payment succeeded anyway is refunded by the sweeper', async () => {
    invariants.forged(); // expired by SQL while its reservation is active
    const { input, pi } = await upToConfirm('pm_card_visa');
    await testPool().query(
      `update orders set status = 'expired', failure_reason = 'reservation_expired' where id = $1`,
      [input.orderId],
    );
    expect(await sweepExpiredReservations(silentLogger, { tenantId })).toMatchObject({ refunded: 1 });
    expect((await paymentRow(input.orderId))?.status).toBe('refunded');
    await expectMoneyInvariant(input, pi);
  });

  it('a saved 500 on refund: the refunds are listed, and only a still-needed refund goes under a fresh key', async () => {
    invariants.forged(); // expired by SQL while its reservation is active
    const lost = await upToConfirm('pm_card_visa');
    const saved = await upToConfirm('pm_card_visa');
    for (const { input } of [lost, saved]) {
      await testPool().query(`update orders set status = 'expired' where id = $1`, [input.orderId]);
    }
    // saved-after: the refund happened, the key keeps a 500. saved-before: nothing happened.
    fake().injectFault({ method: 'POST', path: '/v1/refunds', status: 500, when: 'saved-after' });
    expect(await saga.finalize(lost.input)).toEqual({ outcome: 'refunded' });
    fake().injectFault({ method: 'POST', path: '/v1/refunds', status: 500, when: 'saved-before' });
    expect(await saga.finalize(saved.input)).toEqual({ outcome: 'refunded' });
    const refundPosts = (orderId: string) =>
      fake()
        .requests()
        .filter(
          (r) => r.method === 'POST' && r.path === '/v1/refunds' && r.idempotencyKey?.startsWith(orderId),
        );
    expect(refundPosts(lost.input.orderId)).toHaveLength(1);
    expect(refundPosts(saved.input.orderId)).toHaveLength(2);
    await expectMoneyInvariant(lost.input, lost.pi);
    await expectMoneyInvariant(saved.input, saved.pi);
  });

  it('a saved 500 on confirm after the charge: the intent is read, no second attempt, the sale completes', async () => {
    const input = await newOrder('pm_card_visa');
    await saga.reserve(input);
    const created = await saga.createIntent(input);
    if (created.outcome !== 'created') throw new Error('no intent');
    fake().injectFault({
      method: 'POST',
      path: '/v1/payment_intents/*/confirm',
      status: 500,
      when: 'saved-after',
    });
    expect(await saga.confirm({ ...input, paymentIntentId: created.paymentIntentId })).toEqual({
      outcome: 'succeeded',
    });
    expect(await saga.finalize(input)).toEqual({ outcome: 'confirmed' });
    expect(
      fake()
        .requests()
        .filter((r) => r.path.endsWith('/confirm')),
    ).toHaveLength(1);
    await expectMoneyInvariant(input, created.paymentIntentId);
  });

  it('a saved 500 on create: the replayed 500 burns the key, a fresh key creates the one intent', async () => {
    const input = await newOrder('pm_card_visa');
    await saga.reserve(input);
    fake().injectFault({ method: 'POST', path: '/v1/payment_intents', status: 500, when: 'saved-before' });
    // First answer: a 500 (not yet known to be saved) — the orchestration retries the activity.
    await expect(saga.createIntent(input)).rejects.toThrow(/transiently/);
    const created = await saga.createIntent(input);
    expect(created.outcome).toBe('created');
    const creates = fake()
      .requests()
      .filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents');
    expect(creates.map((r) => r.replayed)).toEqual([false, true, false]);
    expect(creates[2]?.idempotencyKey).toMatch(new RegExp(`^${input.orderId}:create:`));
    expect(
      fake()
        .paymentIntents()
        .filter((p) => p.metadata.orderId === input.orderId),
    ).toHaveLength(1);
  });

  it('processing keeps the order open with its stock until Stripe settles it, then it is finalized', async () => {
    const { input, pi } = await upToConfirm('pm_fake_processing');
    expect((await paymentRow(input.orderId))?.status).toBe('processing');
    // The payment window ends: Stripe refuses to cancel a processing intent.
    expect(await saga.compensate({ ...input, status: 'expired', reason: 'payment_timeout' })).toEqual({
      outcome: 'processing',
    });
    expect((await orderRow(input.orderId)).status).toBe('awaiting_payment');
    await expireReservation(input.orderId);
    expect(await sweepExpiredReservations(silentLogger, { tenantId })).toMatchObject({
      processing: 1,
      released: 0,
    });
    const { rows } = await testPool().query<{ later: boolean }>(
      `select expires_at > now() + interval '60 seconds' as later from reservations where order_id = $1`,
      [input.orderId],
    );
    expect(rows[0]?.later).toBe(true);
    await fake().settleProcessing(pi, 'succeed');
    expect(await saga.finalize(input)).toEqual({ outcome: 'confirmed' });
    await expectMoneyInvariant(input, pi);
  });

  it('payment_failed is not final: a later success through the client secret is recorded and confirmed', async () => {
    const { input, pi } = await upToConfirm('pm_card_chargeDeclined');
    expect((await paymentRow(input.orderId))?.status).toBe('failed');
    await fake().customerConfirm(pi, 'pm_card_visa');
    expect(await saga.finalize(input)).toEqual({ outcome: 'confirmed' });
    expect((await paymentRow(input.orderId))?.status).toBe('succeeded');
    await expectMoneyInvariant(input, pi);
  });

  it('an amount Stripe reports different from the order total is refunded and alerted', async () => {
    const input = await newOrder('pm_card_visa');
    await saga.reserve(input);
    const created = await saga.createIntent(input);
    if (created.outcome !== 'created') throw new Error('no intent');
    await stripe().paymentIntents.update(created.paymentIntentId, { amount: 100 });
    expect(await saga.confirm({ ...input, paymentIntentId: created.paymentIntentId })).toEqual({
      outcome: 'succeeded',
    });
    expect(await saga.finalize(input)).toEqual({
      outcome: 'refunded',
      status: 'failed',
      reason: 'payment_error',
    });
    expect(await orderRow(input.orderId)).toMatchObject({
      status: 'failed',
      failure_reason: 'payment_error',
    });
    expect(
      events.some((e) => e.name === 'PaymentAmountMismatch' && e.properties?.orderId === input.orderId),
    ).toBe(true);
    await expectMoneyInvariant(input, created.paymentIntentId);
  });
});

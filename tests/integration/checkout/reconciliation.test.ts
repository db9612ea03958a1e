import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/logging/logger.js';
import { CheckoutSaga } from '../../../shared/services/checkout/checkout-saga.js';
import {
  reconcilePayments,
  RECONCILIATION_METRIC,
  RECONCILIATION_WORK,
  StripeIntentSource,
  type ReconcileOptions,
} from '../../../shared/services/checkout/reconciliation.js';
import { REDRIVE_OUTCOMES } from '../../../shared/services/orders/refund-redrive.js';
import { sweepExpiredReservations } from '../../../shared/services/checkout/reservation-sweeper.js';
import { getStripe } from '../../../shared/services/payments/stripe-client.js';
import { addTelemetrySink } from '../../../shared/telemetry/index.js';
import type { CreatedProduct } from '../../fixtures/sample_data.js';
import { useFakeStripe } from '../../support/fake-stripe.js';
import { moneyAt, upToConfirm as upToConfirmOf } from '../orders/paid-orders.js';
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
 * Reconciliation (issue #17 item 4) against the fake Stripe with no webhook endpoint at all: every
 * webhook is lost, and no orchestration runs after the steps a test drives — it is dead. Only the
 * reconciliation pass can notice what Stripe did. Money invariant per intent: captured − refunded is the
 * order total when the order is confirmed, else 0.
 */

const stripeAt = useFakeStripe({ apiKey: 'sk_test_recon', eachTest: 'reset' });
const { fake, stripe } = stripeAt;
const { netCharged, expectMoneyInvariant } = moneyAt(stripeAt);
let tenantId: string;
let product: CreatedProduct;
let buyer: Buyer;
const metrics: { name: string; value: number; properties?: Record<string, string> }[] = [];
const saga = new CheckoutSaga(silentLogger);
const PRICE = 8400;

beforeAll(async () => {
  addTelemetrySink({
    event: () => undefined,
    metric: (name, value, properties) => metrics.push({ name, value, ...(properties ? { properties } : {}) }),
  });
  ({ tenantId, product, buyer } = await openShop('Reconciliation shop', { stock: 100, priceCents: PRICE }));
});

// The shared oracle (tests/support/invariants.ts) over each test's orders, before the fake forgets them.
const invariants = invariantsAfterEachTest(() => [tenantId], fake);

const reconcile = (options: ReconcileOptions = {}) =>
  reconcilePayments(silentLogger, { tenantId, graceSeconds: 0, ...options });

const upToConfirm = (pm: string) => upToConfirmOf(buyer, pm);

const intentStatus = (pi: string): string | undefined =>
  fake()
    .paymentIntents()
    .find((p) => p.id === pi)?.status;

describe('reconciliation', () => {
  it('a lost payment_intent.succeeded webhook with the orchestration dead: the order is confirmed', async () => {
    const { input, pi } = await upToConfirm('pm_card_authenticationRequired');
    await fake().completeAuthentication(pi, 'succeed');
    // Nobody told the app: the ledger still waits for 3-D Secure.
    expect((await paymentRow(input.orderId))?.status).toBe('requires_action');

    const run = await reconcile();
    expect(run).toMatchObject({ finalized: 1, refunded: 0, cancelled: 0, failed: 0 });
    expect(await orderRow(input.orderId)).toMatchObject({ status: 'confirmed' });
    expect((await paymentRow(input.orderId))?.status).toBe('succeeded');
    expect(await reservationStatuses(input.orderId)).toEqual(['committed']);
    await expectMoneyInvariant(input, pi);

    // Safe to run again: nothing left to do.
    expect(await reconcile()).toMatchObject({ finalized: 0, refunded: 0, cancelled: 0, failed: 0 });
  });

  it('a lost success for an order the orchestration already closed: the payment is refunded', async () => {
    const before = await stockOf(product.id);
    const { input, pi } = await upToConfirm('pm_card_authenticationRequired');
    await fake().completeAuthentication(pi, 'succeed');
    // The orchestration closed the order (ledger still requires_action), then died before its cancel ran.
    await saga.release({ ...input, status: 'expired', reason: 'reservation_expired' });
    expect((await orderRow(input.orderId)).status).toBe('expired');
    expect(await netCharged(pi)).toBe(PRICE);

    expect(await reconcile()).toMatchObject({ finalized: 0, refunded: 1, failed: 0 });
    expect((await orderRow(input.orderId)).status).toBe('expired');
    expect(await stockOf(product.id)).toEqual(before);
    await expectMoneyInvariant(input, pi);
    expect(await reconcile()).toMatchObject({ refunded: 0, failed: 0 });
    await expectMoneyInvariant(input, pi);
  });

  it('an intent left open past its order deadline is cancelled and the order closed', async () => {
    const before = await stockOf(product.id);
    const { input, pi } = await upToConfirm('pm_card_authenticationRequired');
    // Within the deadline nothing is touched (the orchestration may be alive).
    expect(await reconcile()).toMatchObject({ cancelled: 0 });
    expect(intentStatus(pi)).toBe('requires_action');

    await expireReservation(input.orderId);
    expect(await reconcile()).toMatchObject({ cancelled: 1, failed: 0 });
    expect(intentStatus(pi)).toBe('canceled');
    expect(await orderRow(input.orderId)).toMatchObject({
      status: 'expired',
      failure_reason: 'reservation_expired',
    });
    expect(await stockOf(product.id)).toEqual(before);
    // The customer finishes 3-D Secure afterwards: Stripe refuses, nothing is taken.
    await expect(fake().completeAuthentication(pi, 'succeed')).rejects.toThrow();
    await expectMoneyInvariant(input, pi);
  });

  it('an order closed while its intent stayed open (cancel never ran): the intent is cancelled', async () => {
    const { input, pi } = await upToConfirm('pm_card_authenticationRequired');
    await saga.release({ ...input, status: 'expired', reason: 'reservation_expired' });
    expect(intentStatus(pi)).toBe('requires_action');
    expect(await reconcile()).toMatchObject({ cancelled: 1, failed: 0 });
    expect(intentStatus(pi)).toBe('canceled');
    expect((await paymentRow(input.orderId))?.status).toBe('canceled');
  });

  it('after a saved 5xx on cancel, reads Stripe and cancels under a fresh key', async () => {
    const { input, pi } = await upToConfirm('pm_card_authenticationRequired');
    fake().injectFault({
      method: 'POST',
      path: '/v1/payment_intents/*/cancel',
      status: 500,
      when: 'saved-before',
    });
    await expireReservation(input.orderId);
    expect(await reconcile()).toMatchObject({ cancelled: 1, failed: 0 });
    expect(intentStatus(pi)).toBe('canceled');
    expect((await orderRow(input.orderId)).status).toBe('expired');
  });

  it('stray intents of a closed order (create answers lost): cancelled or refunded, through a saved 5xx each', async () => {
    const { input, pi } = await upToConfirm('pm_card_authenticationRequired');
    await saga.release({ ...input, status: 'expired', reason: 'reservation_expired' });
    // Two intents Stripe made for this order whose answers never reached us: one open, one that took
    // money (a card confirmed on it elsewhere).
    const meta = { orderId: input.orderId, tenantId };
    const strayOpen = await stripe().paymentIntents.create({
      amount: PRICE,
      currency: 'eur',
      metadata: meta,
    });
    const strayPaid = await stripe().paymentIntents.create({
      amount: PRICE,
      currency: 'eur',
      payment_method: 'pm_card_visa',
      confirm: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: meta,
    });
    // Stripe saves a 500 under the first key of each (docs.stripe.com/idempotency): that key never works.
    fake().injectFault({
      method: 'POST',
      path: `/v1/payment_intents/${strayOpen.id}/cancel`,
      status: 500,
      when: 'saved-before',
    });
    fake().injectFault({ method: 'POST', path: '/v1/refunds', status: 500, when: 'saved-before' });

    // One action per order per run: three runs, none failing (the saved 500s are read past, not retried).
    const runs = [await reconcile(), await reconcile(), await reconcile()];
    expect(runs.map((r) => r.failed)).toEqual([0, 0, 0]);
    const total = (k: 'cancelled' | 'refunded'): number => runs.reduce((n, r) => n + r[k], 0);
    expect({ cancelled: total('cancelled'), refunded: total('refunded') }).toEqual({
      cancelled: 2,
      refunded: 1,
    });
    expect(fake().faults()).toEqual([]);
    expect([intentStatus(pi), intentStatus(strayOpen.id)]).toEqual(['canceled', 'canceled']);
    expect(await netCharged(strayPaid.id)).toBe(0);
    const refunds = await stripe().refunds.list({ payment_intent: strayPaid.id, limit: 100 });
    expect(refunds.data.filter((r) => r.status === 'succeeded').map((r) => r.amount)).toEqual([PRICE]);
    expect(await reconcile()).toMatchObject({ cancelled: 0, refunded: 0, failed: 0 });
  });

  it('others’ intents and refunds made outside the app are counted, never touched', async () => {
    invariants.forged(); // another app's charge and a refund whose webhook never came: what reconciliation reports
    // Scoped to this file's tenant like every run here: a whole-database run would act on other test
    // files' orders in the shared run database. The foreign intent names this tenant but no order of it.
    const foreign = await stripe().paymentIntents.create({
      amount: 1500,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: { tenantId, orderId: randomUUID() },
    });
    const { input, pi } = await upToConfirm('pm_card_visa');
    expect(await saga.finalize(input)).toEqual({ outcome: 'confirmed' });
    await fake().dashboardRefund(pi, 1000);
    const refundsBefore = (await stripe().refunds.list({ limit: 100 })).data.length;

    const run = await reconcile();
    expect(run).toMatchObject({ foreign: 1, refundedOutside: 1, finalized: 0, refunded: 0, cancelled: 0 });
    expect((await stripe().refunds.list({ limit: 100 })).data.length).toBe(refundsBefore);
    expect(intentStatus(foreign.id)).toBe('succeeded');
    expect((await orderRow(input.orderId)).status).toBe('confirmed');
    expect((await paymentRow(input.orderId))?.status).toBe('succeeded');
    const counted = metrics.filter((m) => m.name === RECONCILIATION_METRIC);
    expect(counted.find((m) => m.properties?.outcome === 'foreign' && m.value === 1)).toBeDefined();
  });

  it('twice at once and beside the sweeper: one confirmation or one refund, never both', async () => {
    const open = await upToConfirm('pm_card_authenticationRequired');
    await fake().completeAuthentication(open.pi, 'succeed');
    const closed = await upToConfirm('pm_card_authenticationRequired');
    await fake().completeAuthentication(closed.pi, 'succeed');
    await saga.release({ ...closed.input, status: 'expired', reason: 'reservation_expired' });
    const stale = await upToConfirm('pm_card_authenticationRequired');
    await expireReservation(stale.input.orderId);
    await expireReservation(open.input.orderId);

    const runs = await Promise.all([
      reconcile(),
      reconcile(),
      sweepExpiredReservations(silentLogger, { tenantId }),
    ]);
    for (const run of runs) expect(run.failed).toBe(0);
    expect((await orderRow(open.input.orderId)).status).toBe('confirmed');
    expect((await orderRow(closed.input.orderId)).status).toBe('expired');
    expect((await orderRow(stale.input.orderId)).status).toBe('expired');
    expect(intentStatus(stale.pi)).toBe('canceled');
    for (const { input, pi } of [open, closed, stale]) await expectMoneyInvariant(input, pi);
    const refunds = await stripe().refunds.list({ payment_intent: closed.pi, limit: 100 });
    expect(refunds.data).toHaveLength(1);
  });

  it('bounded: at most maxActions orders per run, the rest in the next', async () => {
    const a = await upToConfirm('pm_card_authenticationRequired');
    const b = await upToConfirm('pm_card_authenticationRequired');
    await fake().completeAuthentication(a.pi, 'succeed');
    await fake().completeAuthentication(b.pi, 'succeed');
    expect(await reconcile({ maxIntents: 1 })).toMatchObject({ listed: 1, finalized: 1, truncated: true });
    // Stripe's pages of one intent each: starting_after walks all of them.
    const source = new StripeIntentSource(getStripe, 1);
    expect(await reconcile({ source })).toMatchObject({ listed: 2, finalized: 1, truncated: false });
    expect((await orderRow(a.input.orderId)).status).toBe('confirmed');
    expect((await orderRow(b.input.orderId)).status).toBe('confirmed');
    const c = await upToConfirm('pm_card_authenticationRequired');
    const d = await upToConfirm('pm_card_authenticationRequired');
    await fake().completeAuthentication(c.pi, 'succeed');
    await fake().completeAuthentication(d.pi, 'succeed');
    expect(await reconcile({ maxActions: 1 })).toMatchObject({ finalized: 1, truncated: true });
    expect(await reconcile({ maxActions: 1 })).toMatchObject({ finalized: 1 });
    expect((await orderRow(c.input.orderId)).status).toBe('confirmed');
    expect((await orderRow(d.input.orderId)).status).toBe('confirmed');
  });

  it('the Bicep alert watches the metric the pass emits, on exactly its work outcomes', () => {
    const bicep = readFileSync(path.resolve(__dirname, '../../../bicep/modules/alerts.bicep'), 'utf8');
    const query = /var reconciliationWorkQuery = '''([\s\S]*?)'''/.exec(bicep)?.[1] ?? '';
    expect(query).toContain(`name == "${RECONCILIATION_METRIC}"`);
    const outcomes = /outcome\) in \(([^)]*)\)/.exec(query)?.[1]?.match(/"(\w+)"/g) ?? [];
    expect(outcomes.map((o) => o.replaceAll('"', '')).sort()).toEqual(
      [...RECONCILIATION_WORK, ...Object.values(REDRIVE_OUTCOMES)].sort(),
    );
    expect(bicep).toMatch(
      /module reconciliationWork 'log-alert.bicep'[\s\S]*?query: reconciliationWorkQuery/,
    );
  });
});

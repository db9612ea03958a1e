import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/logging/logger.js';
import { redrivePendingRefunds } from '../../../shared/services/orders/refund-redrive.js';
import { idempotencyKey } from '../../../shared/services/payments/payment-gateway.js';
import { testPool } from '../../fixtures/sample_data.js';
import { useFakeStripe } from '../../support/fake-stripe.js';
import type { InvokeResult } from '../../support/http.js';
import { expectInvariants, openShop, useStubOrchestration, type TestShop } from '../checkout/helpers.js';
import { statusOf } from './helpers.js';
import {
  confirmedOrder,
  customerCancel,
  deliverStripeEvent,
  paymentOf,
  refundPosts,
  runBackstop,
  stripeEventsFor,
  stripeRefunds,
} from './paid-orders.js';

/**
 * Issue #17 ("every charge ends as a confirmed order or a refund", the books matching Stripe). A refund
 * made in the Stripe dashboard whose `charge.refunded` has not arrived, then the customer cancels the
 * paid order: the cancel's refund row asks for the whole payment, Stripe refuses (`amount_too_large`),
 * the row fails and its promise is given back (the dashboard's refund counted from Stripe's list). The
 * customer's remaining money is refunded by a backstop — the sweeper or the reconciliation — under the
 * checkout's own key, outside any refund row. No webhook of either refund is ever delivered here (the
 * fake has no webhook URL: it only records its events), so the backstop itself must bring the books
 * level with Stripe's refund list; a late delivery must then change nothing.
 */

const PRICE = 5300;
const DASHBOARD = 1000;
const { fake, stripe } = useFakeStripe({ apiKey: 'sk_test_backstop_books', eachTest: 'clearFaults' });
useStubOrchestration();
let shop: TestShop;

beforeAll(async () => {
  shop = await openShop('Backstop books shop', { stock: 100, priceCents: PRICE });
});

const cancel = (orderId: string): Promise<InvokeResult> => customerCancel(orderId, shop.customerHeaders);

/** One run of each backstop, scoped to this file's shop: refunds made, runs that failed. */
const backstops = {
  sweeper: () => runBackstop('sweeper', shop.tenantId),
  reconciliation: () => runBackstop('reconciliation', shop.tenantId),
};

interface RefundRow {
  status: string;
  amount: number;
  source: string;
  stripeRefundId: string | null;
}

/** Our refund rows of the order, in a stable order (amount, then source) so assertions read plainly. */
async function refundRows(orderId: string): Promise<RefundRow[]> {
  const { rows } = await testPool().query<{
    status: string;
    amount_cents: string;
    source: string;
    stripe_refund_id: string | null;
  }>(
    `select status, amount_cents, source, stripe_refund_id from refunds
      where order_id = $1 order by amount_cents, source`,
    [orderId],
  );
  return rows.map((r) => ({
    status: r.status,
    amount: Number(r.amount_cents),
    source: r.source,
    stripeRefundId: r.stripe_refund_id,
  }));
}

/** The reasons of the order's refund rows that Stripe reported, by Stripe refund id. */
async function refundReasons(orderId: string): Promise<Record<string, string>> {
  const { rows } = await testPool().query<{ stripe_refund_id: string; reason: string }>(
    `select stripe_refund_id, reason from refunds where order_id = $1 and stripe_refund_id is not null`,
    [orderId],
  );
  return Object.fromEntries(rows.map((r) => [r.stripe_refund_id, r.reason]));
}

/** Stripe's live refunds of the intent as [id, amount], oldest first. */
async function liveRefunds(pi: string): Promise<[string, number][]> {
  return (await stripeRefunds(stripe(), pi))
    .filter((r) => r.status === 'succeeded')
    .reverse()
    .map((r) => [r.id, r.amount]);
}

/**
 * Steps 1–2 of the sequence: the dashboard refund (webhook never delivered), then the customer's cancel
 * whose refund row Stripe refuses. Returns the dashboard refund's Stripe id.
 */
async function dashboardRefundThenCancel(orderId: string, pi: string): Promise<string> {
  const dashboard = await fake().dashboardRefund(pi, DASHBOARD);

  const posted = refundPosts(fake(), pi).length;
  const cancelled = await cancel(orderId);
  expect(cancelled.status).toBe(200);
  expect(cancelled.json).toMatchObject({ id: orderId, status: 'cancelled' });
  // The cancel's row asked for the whole payment; Stripe had only PRICE − DASHBOARD left.
  expect(refundPosts(fake(), pi).slice(posted)).toMatchObject([{ amount: String(PRICE), status: 400 }]);
  expect(await refundRows(orderId)).toEqual([
    { status: 'succeeded', amount: DASHBOARD, source: 'stripe', stripeRefundId: dashboard.id },
    { status: 'failed', amount: PRICE, source: 'cancel', stripeRefundId: null },
  ]);
  expect(await paymentOf(orderId)).toEqual({ status: 'succeeded', refunded: DASHBOARD });
  expect(await liveRefunds(pi)).toEqual([[dashboard.id, DASHBOARD]]);
  return dashboard.id;
}

describe('a backstop refund of the rest of a partly refunded, cancelled order, its webhooks lost', () => {
  it.each(['sweeper', 'reconciliation'] as const)(
    '%s: the books equal Stripe’s refund list with no webhook, and a late webhook changes nothing',
    async (backstop) => {
      const { orderId, pi } = await confirmedOrder(shop.buyer);
      const dashboardId = await dashboardRefundThenCancel(orderId, pi);

      // The backstop refunds "the rest" under the checkout's key: exactly PRICE − DASHBOARD at Stripe.
      const posted = refundPosts(fake(), pi).length;
      expect(await backstops[backstop]()).toEqual({ refunded: 1, failed: 0 });
      expect(refundPosts(fake(), pi).slice(posted)).toMatchObject([
        { key: idempotencyKey(orderId, 'refund'), amount: undefined, status: 200 },
      ]);
      const refunds = await liveRefunds(pi);
      expect(refunds).toEqual([
        [dashboardId, DASHBOARD],
        [expect.any(String), PRICE - DASHBOARD],
      ]);
      const backstopId = refunds[1]![0];

      // Our books, with no webhook delivered: every refund at Stripe counted once, the payment refunded.
      expect(fake().deliveries()).toEqual([]);
      const rows = [
        { status: 'succeeded', amount: DASHBOARD, source: 'stripe', stripeRefundId: dashboardId },
        { status: 'succeeded', amount: PRICE - DASHBOARD, source: 'backstop', stripeRefundId: backstopId },
        { status: 'failed', amount: PRICE, source: 'cancel', stripeRefundId: null },
      ];
      expect(await refundRows(orderId)).toEqual(rows);
      // The order desk tells the two apart: the dashboard's refund, and the one the backstop made.
      expect(await refundReasons(orderId)).toEqual({
        [dashboardId]: 'refunded in the Stripe dashboard',
        [backstopId]: 'refunded automatically: the payment was not kept for this order',
      });
      expect(await paymentOf(orderId)).toEqual({ status: 'refunded', refunded: PRICE });
      expect(await statusOf(orderId)).toBe('cancelled');
      await expectInvariants([shop.tenantId], { fake: fake(), settled: true, orderIds: [orderId] });

      // Nothing left for any later run.
      expect(await backstops.sweeper()).toEqual({ refunded: 0, failed: 0 });
      expect(await backstops.reconciliation()).toEqual({ refunded: 0, failed: 0 });
      expect(
        await redrivePendingRefunds(silentLogger, { tenantId: shop.tenantId, olderThanSeconds: 0 }),
      ).toMatchObject({
        seen: 0,
      });

      // The lost webhooks arrive after all (Stripe retries for 3 days): they change nothing.
      const hooks = stripeEventsFor(fake(), pi, 'charge.refunded');
      expect(hooks).toHaveLength(2);
      for (const hook of hooks) expect((await deliverStripeEvent(hook)).status).toBe(200);
      expect(await refundRows(orderId)).toEqual(rows);
      expect(await paymentOf(orderId)).toEqual({ status: 'refunded', refunded: PRICE });
      expect(await statusOf(orderId)).toBe('cancelled');
      expect(await liveRefunds(pi)).toEqual(refunds);
      await expectInvariants([shop.tenantId], { fake: fake(), settled: true, orderIds: [orderId] });
    },
  );

  it('Stripe fails the refund list after the backstop refunded: the payment stays to be finished, the next run levels the books without refunding again', async () => {
    const { orderId, pi } = await confirmedOrder(shop.buyer);
    const dashboardId = await dashboardRefundThenCancel(orderId, pi);

    // The refund goes through; the list that follows fails on the wire.
    fake().injectFault({
      method: 'GET',
      path: '/v1/refunds',
      kind: 'error',
      status: 500,
      when: 'before',
      times: 1,
    });
    expect(await backstops.sweeper()).toEqual({ refunded: 0, failed: 1 });
    expect(fake().faults()).toEqual([]);
    const refunds = await liveRefunds(pi);
    expect(refunds).toEqual([
      [dashboardId, DASHBOARD],
      [expect.any(String), PRICE - DASHBOARD],
    ]);
    // The refund is not forgotten: the payment still says succeeded, so the backstops come back to it.
    expect(await paymentOf(orderId)).toEqual({ status: 'succeeded', refunded: DASHBOARD });

    // The next run: the refund's key replays Stripe's saved answer (no second refund), then the books.
    const posted = refundPosts(fake(), pi).length;
    expect(await backstops.sweeper()).toEqual({ refunded: 1, failed: 0 });
    expect(refundPosts(fake(), pi).slice(posted)).toMatchObject([
      { key: idempotencyKey(orderId, 'refund'), status: 200, replayed: true },
    ]);
    expect(await liveRefunds(pi)).toEqual(refunds);
    expect(await refundRows(orderId)).toEqual([
      { status: 'succeeded', amount: DASHBOARD, source: 'stripe', stripeRefundId: dashboardId },
      { status: 'succeeded', amount: PRICE - DASHBOARD, source: 'backstop', stripeRefundId: refunds[1]![0] },
      { status: 'failed', amount: PRICE, source: 'cancel', stripeRefundId: null },
    ]);
    expect(await paymentOf(orderId)).toEqual({ status: 'refunded', refunded: PRICE });
    expect(await statusOf(orderId)).toBe('cancelled');
    expect(await backstops.sweeper()).toEqual({ refunded: 0, failed: 0 });
    await expectInvariants([shop.tenantId], { fake: fake(), settled: true, orderIds: [orderId] });
  });

  it('the oracle accepts a payment refunded before our pending row only if Stripe refunded it in full', async () => {
    // Its own shop: the order is left with a pending refund and a forged payment, out of the others' way.
    const own = await openShop('Backstop books oracle shop', { stock: 10, priceCents: PRICE });
    const { orderId, pi } = await confirmedOrder(own.buyer);
    // The cancel's refund strikes a saved 500 twice: its row stays pending, nothing refunded at Stripe.
    fake().injectFault({ method: 'POST', path: '/v1/refunds', kind: 'error', status: 500, times: 2 });
    const cancelled = await customerCancel(orderId, own.customerHeaders);
    expect(cancelled.status).toBe(200);
    expect(await refundRows(orderId)).toMatchObject([{ status: 'pending', amount: PRICE, source: 'cancel' }]);
    expect(await paymentOf(orderId)).toEqual({ status: 'succeeded', refunded: PRICE });
    expect(await liveRefunds(pi)).toEqual([]);

    // Forged: the payment says refunded although Stripe still holds the money.
    await testPool().query(`update payments set status = 'refunded' where order_id = $1`, [orderId]);
    await expect(expectInvariants([own.tenantId], { fake: fake(), orderIds: [orderId] })).rejects.toThrow(
      `order ${orderId}: payment is refunded with a refund pending, but Stripe refunded 0 of ${PRICE}`,
    );
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { cancelManagedOrder } from '../../../functions/manage-orders.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { redrivePendingRefunds } from '../../../shared/services/orders/refund-redrive.js';
import { idempotencyKey } from '../../../shared/services/payments/payment-gateway.js';
import { refundKey } from '../../../shared/services/payments/refunds.js';
import { testPool } from '../../fixtures/sample_data.js';
import { authHeaders, createUser } from '../../fixtures/users.js';
import { useFakeStripe } from '../../support/fake-stripe.js';
import { invoke, type InvokeResult } from '../../support/http.js';
import {
  expectInvariants,
  openShop,
  stockOf,
  useStubOrchestration,
  type TestShop,
} from '../checkout/helpers.js';
import { statusOf } from './helpers.js';
import {
  ageRefunds,
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
 * Issue #17 ("every charge ends as a confirmed order or a refund"), one sequence end to end against the
 * fake Stripe: a paid order is cancelled and Stripe answers its refund with a 500 it saves under the key
 * (the fake's default fault, as Stripe does: docs.stripe.com/idempotency), so the refund row stays
 * `pending` while `refunded_cents` already promises the money. The backstop — the reservation sweeper or
 * the reconciliation — finds a closed order whose payment succeeded and refunds it under the checkout's
 * own key; Stripe's `charge.refunded` for that refund reaches the webhook. Then the reconciliation
 * timer's re-drive replays the saved 500 under the row's key, finds no refund of its own in Stripe's
 * list, is refused with `charge_already_refunded` under a fresh key, and must settle the row
 * `succeeded` from Stripe's list — one refund at Stripe, the order still `cancelled`, the books whole.
 */

const PRICE = 5300;
const { fake, stripe } = useFakeStripe({ apiKey: 'sk_test_cancel_redrive', eachTest: 'clearFaults' });
useStubOrchestration();
let shop: TestShop;
let adminHeaders: Record<string, string>;

beforeAll(async () => {
  shop = await openShop('Cancel re-drive shop', { stock: 100, priceCents: PRICE });
  adminHeaders = await authHeaders(await createUser(shop.tenantId, { roles: ['admin'] }));
});

const cancels = {
  customer: (orderId: string): Promise<InvokeResult> => customerCancel(orderId, shop.customerHeaders),
  admin: (orderId: string): Promise<InvokeResult> =>
    invoke(cancelManagedOrder, {
      method: 'POST',
      url: `http://localhost/api/manage/orders/${orderId}/cancel`,
      headers: adminHeaders,
      params: { id: orderId },
      body: { reason: 'customer phoned', restock: true },
    }),
};

/** A backstop's run over this file's shop, which must not fail: the refunds it made. */
async function refundedBy(backstop: 'sweeper' | 'reconciliation'): Promise<number> {
  const run = await runBackstop(backstop, shop.tenantId);
  expect(run.failed).toBe(0);
  return run.refunded;
}

interface RefundRow {
  id: string;
  status: string;
  amount: number;
  source: string;
  stripeRefundId: string | null;
}

async function refundRows(orderId: string): Promise<RefundRow[]> {
  const { rows } = await testPool().query<{
    id: string;
    status: string;
    amount_cents: string;
    source: string;
    stripe_refund_id: string | null;
  }>(
    `select id, status, amount_cents, source, stripe_refund_id from refunds
      where order_id = $1 order by created_at, id`,
    [orderId],
  );
  return rows.map((r) => ({
    id: r.id,
    status: r.status,
    amount: Number(r.amount_cents),
    source: r.source,
    stripeRefundId: r.stripe_refund_id,
  }));
}

const redrive = () => redrivePendingRefunds(silentLogger, { tenantId: shop.tenantId });

describe('a paid order cancelled while Stripe saves a 500 for its refund, refunded by a backstop, then re-driven', () => {
  it.each([
    ['customer', 'sweeper'],
    ['admin', 'reconciliation'],
  ] as const)(
    '%s cancel, %s refund: Stripe refunds once, the row settles succeeded, the order stays cancelled',
    async (who, backstop) => {
      const { orderId, pi } = await confirmedOrder(shop.buyer);
      const before = await stockOf(shop.product.id);

      // 1. The cancel: both refund attempts (the row's key, then a fresh key after listing) strike a 500
      //    inside Stripe's endpoint; the first one stays saved under the row's key.
      fake().injectFault({ method: 'POST', path: '/v1/refunds', kind: 'error', status: 500, times: 2 });
      const cancelled = await cancels[who](orderId);
      expect(cancelled.status).toBe(200);
      expect(cancelled.json).toMatchObject({ id: orderId, status: 'cancelled' });
      expect(fake().faults()).toEqual([]);
      const [pending, ...others] = await refundRows(orderId);
      expect(others).toEqual([]);
      expect(pending).toMatchObject({
        status: 'pending',
        amount: PRICE,
        source: 'cancel',
        stripeRefundId: null,
      });
      const rowKey = refundKey(pending!.id);
      expect(refundPosts(fake(), pi)).toMatchObject([
        { key: rowKey, status: 500, replayed: false },
        { key: expect.stringMatching(new RegExp(`^${rowKey}:`)), status: 500 },
      ]);
      expect(await stripeRefunds(stripe(), pi)).toEqual([]);
      expect(await paymentOf(orderId)).toEqual({ status: 'succeeded', refunded: PRICE });
      expect((await stockOf(shop.product.id)).available - before.available).toBe(1);

      // 2. The backstop: a cancelled order whose payment succeeded is refunded under the checkout's key.
      const beforeBackstop = refundPosts(fake(), pi).length;
      expect(await refundedBy(backstop)).toBe(1);
      expect(refundPosts(fake(), pi).slice(beforeBackstop)).toMatchObject([
        { key: idempotencyKey(orderId, 'refund'), amount: undefined, status: 200 },
      ]);
      const [byBackstop, ...moreAtStripe] = await stripeRefunds(stripe(), pi);
      expect(moreAtStripe).toEqual([]);
      expect(byBackstop).toMatchObject({ amount: PRICE, status: 'succeeded' });
      expect(byBackstop!.metadata?.refundId).toBeUndefined();
      expect(await paymentOf(orderId)).toEqual({ status: 'refunded', refunded: PRICE });
      // Mid-way, the payment is `refunded` (Stripe gave everything back) while our row is still pending:
      // the oracle allows it because every cent is promised and Stripe's charge is refunded in full.
      await expectInvariants([shop.tenantId], { fake: fake() });
      // Its charge.refunded: the money is already promised by our row, so it is not counted again.
      const hooks = stripeEventsFor(fake(), pi, 'charge.refunded');
      expect(hooks).toHaveLength(1);
      expect((await deliverStripeEvent(hooks[0]!)).status).toBe(200);
      expect(await refundRows(orderId)).toEqual([pending]);
      expect(await paymentOf(orderId)).toEqual({ status: 'refunded', refunded: PRICE });
      await expectInvariants([shop.tenantId], { fake: fake() });

      // 3. The re-drive: the row's key replays the saved 500; Stripe's list holds no refund of ours; a
      //    fresh key is refused as already refunded; Stripe's list shows everything back: succeeded.
      await ageRefunds(orderId);
      const posted = refundPosts(fake(), pi).length;
      expect(await redrive()).toEqual({ seen: 1, succeeded: 1, refused: 0, stillPending: 0 });
      expect(refundPosts(fake(), pi).slice(posted)).toMatchObject([
        { key: rowKey, amount: String(PRICE), status: 500, replayed: true },
        { key: expect.stringMatching(new RegExp(`^${rowKey}:`)), amount: String(PRICE), status: 400 },
      ]);
      expect(await refundRows(orderId)).toEqual([{ ...pending, status: 'succeeded', stripeRefundId: null }]);

      // The end: one refund at Stripe, of the whole payment; the order cancelled, its payment refunded.
      expect((await stripeRefunds(stripe(), pi)).map((r) => [r.id, r.amount])).toEqual([
        [byBackstop!.id, PRICE],
      ]);
      expect(await statusOf(orderId)).toBe('cancelled');
      expect(await paymentOf(orderId)).toEqual({ status: 'refunded', refunded: PRICE });
      // Nothing left for any later run, nor for the customer's repeat.
      expect(await redrive()).toMatchObject({ seen: 0 });
      expect(await refundedBy(backstop)).toBe(0);
      expect((await cancels[who](orderId)).status).toBe(200);
      expect(await stripeRefunds(stripe(), pi)).toHaveLength(1);
      expect(await refundRows(orderId)).toHaveLength(1);
      expect((await stockOf(shop.product.id)).available - before.available).toBe(1);

      await expectInvariants([shop.tenantId], { fake: fake(), settled: true });
    },
  );
});

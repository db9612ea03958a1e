import { beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createRefund } from '../../../functions/manage-orders.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { redrivePendingRefunds } from '../../../shared/services/orders/refund-redrive.js';
import { testPool } from '../../fixtures/sample_data.js';
import { authHeaders, createUser } from '../../fixtures/users.js';
import { useFakeStripe } from '../../support/fake-stripe.js';
import { invoke } from '../../support/http.js';
import { openShop, useStubOrchestration, type TestShop } from '../checkout/helpers.js';
import { statusOf } from './helpers.js';
import { ageRefunds, confirmedOrder as paidOrder, customerCancel, stripeRefunds } from './paid-orders.js';

/**
 * Refunds a Stripe outage left pending are money promised to a customer: the reconciliation timer
 * drives them again (shared/services/orders/refund-redrive.ts). Against the fake Stripe with its
 * refunds endpoint failing and then back.
 */

const PRICE = 6100;
const { fake, stripe } = useFakeStripe({ apiKey: 'sk_test_redrive', eachTest: 'clearFaults' });
useStubOrchestration();
let shop: TestShop;
let adminHeaders: Record<string, string>;

beforeAll(async () => {
  shop = await openShop('Refund re-drive shop', { stock: 100, priceCents: PRICE });
  adminHeaders = await authHeaders(await createUser(shop.tenantId, { roles: ['admin'] }));
});

const confirmedOrder = () => paidOrder(shop.buyer);

/** Stripe's refunds endpoint (create and list) answering 500 until cleared. */
const stripeDown = (): unknown =>
  fake().injectFault({ path: '/v1/refunds', kind: 'error', status: 500, times: 1_000, when: 'before' });

async function refundedAtStripe(pi: string): Promise<number> {
  return (await stripeRefunds(stripe(), pi))
    .filter((r) => r.status !== 'failed')
    .reduce((sum, r) => sum + r.amount, 0);
}

async function refundRows(orderId: string): Promise<{ status: string; amount: number }[]> {
  const { rows } = await testPool().query<{ status: string; amount_cents: string }>(
    'select status, amount_cents from refunds where order_id = $1 order by created_at',
    [orderId],
  );
  return rows.map((r) => ({ status: r.status, amount: Number(r.amount_cents) }));
}

const redrive = (olderThanSeconds?: number) =>
  redrivePendingRefunds(silentLogger, {
    tenantId: shop.tenantId,
    ...(olderThanSeconds === undefined ? {} : { olderThanSeconds }),
  });

describe('re-drive of refunds left pending by a Stripe outage', () => {
  it("finishes an admin's pending refund once Stripe is back; leaves young and still-failing ones", async () => {
    const { orderId, pi } = await confirmedOrder();
    stripeDown();
    const res = await invoke(createRefund, {
      method: 'POST',
      url: `http://localhost/api/manage/orders/${orderId}/refunds`,
      headers: { ...adminHeaders, 'idempotency-key': randomUUID() },
      params: { id: orderId },
      body: { amountCents: 2500, reason: 'outage' },
    });
    expect(res.status).toBe(201);
    expect(res.json.status).toBe('pending');

    // Young: the creating request owns it.
    expect(await redrive()).toMatchObject({ seen: 0 });
    await ageRefunds(orderId);
    // Stripe still down: counted, left pending, nothing lost.
    expect(await redrive()).toEqual({ seen: 1, succeeded: 0, refused: 0, stillPending: 1 });
    expect(await refundRows(orderId)).toEqual([{ status: 'pending', amount: 2500 }]);

    fake().clearFaults();
    expect(await redrive()).toEqual({ seen: 1, succeeded: 1, refused: 0, stillPending: 0 });
    expect(await refundRows(orderId)).toEqual([{ status: 'succeeded', amount: 2500 }]);
    expect(await refundedAtStripe(pi)).toBe(2500);
    expect(await statusOf(orderId)).toBe('confirmed');
    // Nothing left to do: a second run touches nothing and Stripe holds one refund.
    expect(await redrive()).toMatchObject({ seen: 0 });
    expect(await refundedAtStripe(pi)).toBe(2500);
  });

  it("finishes a customer's cancellation whose refund was left pending: the order ends cancelled, nothing charged", async () => {
    const { orderId, pi } = await confirmedOrder();
    stripeDown();
    const res = await customerCancel(orderId, shop.customerHeaders);
    expect(res.status).toBeLessThan(300);
    expect(await refundRows(orderId)).toEqual([{ status: 'pending', amount: PRICE }]);
    fake().clearFaults();
    await ageRefunds(orderId);
    expect(await redrive(0)).toMatchObject({ succeeded: 1, stillPending: 0 });
    expect(await statusOf(orderId)).toBe('cancelled');
    expect(await refundedAtStripe(pi)).toBe(PRICE);
  });

  it('two re-drives at once (two timer instances) refund once', async () => {
    const { orderId, pi } = await confirmedOrder();
    stripeDown();
    await invoke(createRefund, {
      method: 'POST',
      url: `http://localhost/api/manage/orders/${orderId}/refunds`,
      headers: { ...adminHeaders, 'idempotency-key': randomUUID() },
      params: { id: orderId },
      body: { amountCents: PRICE, reason: 'outage' },
    });
    fake().clearFaults();
    const both = await Promise.all([redrive(0), redrive(0)]);
    expect(both.reduce((n, r) => n + r.succeeded, 0)).toBeGreaterThanOrEqual(1);
    expect(await refundRows(orderId)).toEqual([{ status: 'succeeded', amount: PRICE }]);
    expect(await refundedAtStripe(pi)).toBe(PRICE);
    expect(await statusOf(orderId)).toBe('refunded');
  });
});

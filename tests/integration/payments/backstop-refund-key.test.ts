import type Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeStripe, type FakeStripe } from '../../../infra/fake-stripe/server.js';
import { refundRemainder } from '../../../shared/services/payments/money-rules.js';
import {
  idempotencyKey,
  intentViewOf,
  StripePaymentGateway,
} from '../../../shared/services/payments/payment-gateway.js';
import { sdk, WEBHOOK_SECRET } from '../../fake-stripe/helpers.js';

/**
 * Issue #17: the backstop's refund marks itself at Stripe (`metadata.origin`), so the books can tell it
 * from a dashboard refund. A version before that sent the same fixed key (`{orderId}:refund`) without
 * metadata; after a deploy mid-retry, the same key with other parameters is Stripe's 400
 * `idempotency_error` (docs.stripe.com/api/idempotent_requests). The refund must still happen exactly
 * once: Stripe's list decides whether a fresh key is needed.
 */

let fake: FakeStripe;
let stripe: Stripe;
let gateway: StripePaymentGateway;

beforeAll(async () => {
  fake = await startFakeStripe({ webhookSecret: WEBHOOK_SECRET });
  stripe = sdk(fake);
  gateway = new StripePaymentGateway(() => Promise.resolve(stripe));
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const ORDER = '0c4b3a52-8a1e-4f7e-9b55-3f1c2d9e7a10';
const AMOUNT = 4200;

async function succeededIntent(): Promise<Stripe.PaymentIntent> {
  const pi = await stripe.paymentIntents.create({
    amount: AMOUNT,
    currency: 'eur',
    payment_method: 'pm_card_visa',
    confirm: true,
    automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    metadata: { orderId: ORDER },
  });
  expect(pi.status).toBe('succeeded');
  return pi;
}

const refundsOf = async (pi: string): Promise<Stripe.Refund[]> =>
  (await stripe.refunds.list({ payment_intent: pi })).data.filter((r) => r.status === 'succeeded');

describe('the backstop refund under a key an earlier version used without metadata', () => {
  it('the earlier refund went through (its answer lost): no second refund', async () => {
    const pi = await succeededIntent();
    await stripe.refunds.create(
      { payment_intent: pi.id },
      { idempotencyKey: idempotencyKey(ORDER, 'refund') },
    );

    await refundRemainder(gateway, ORDER, intentViewOf(pi));

    const posts = fake.requests().filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    expect(posts.map((r) => r.status)).toEqual([200, 400]);
    const refunds = await refundsOf(pi.id);
    expect(refunds.map((r) => r.amount)).toEqual([AMOUNT]);
  });

  it('the earlier refund hit a saved 500: one refund under a fresh key, marked as the backstop’s', async () => {
    const pi = await succeededIntent();
    fake.injectFault({ method: 'POST', path: '/v1/refunds', kind: 'error', status: 500, times: 1 });
    await expect(
      stripe.refunds.create({ payment_intent: pi.id }, { idempotencyKey: idempotencyKey(ORDER, 'refund') }),
    ).rejects.toMatchObject({ statusCode: 500 });

    await refundRemainder(gateway, ORDER, intentViewOf(pi));

    // The earlier version's saved 500, our same-key request refused for its other parameters, then the
    // fresh key after Stripe's list showed the money still there.
    const posts = fake.requests().filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    expect(posts.map((r) => r.status)).toEqual([500, 400, 200]);
    const refunds = await refundsOf(pi.id);
    expect(refunds.map((r) => [r.amount, r.metadata])).toEqual([
      [AMOUNT, { origin: 'backstop', orderId: ORDER }],
    ]);
    const listed = await gateway.listRefunds(pi.id);
    expect(listed.map((r) => r.backstop)).toEqual([true]);
  });

  it('a key still in use by a running request (409) waits for it: no refund under a fresh key', async () => {
    const pi = await succeededIntent();
    const key = `${ORDER}:refund:${pi.id}:${AMOUNT}`;
    // Another reconciliation run's request with the same key, held inside the endpoint for 300 ms.
    fake.injectFault({ method: 'POST', path: '/v1/refunds', kind: 'delay', ms: 300, when: 'saved-before' });
    const running = refundRemainder(gateway, ORDER, intentViewOf(pi), { amount: AMOUNT, key });
    await new Promise((r) => setTimeout(r, 50));
    await expect(
      refundRemainder(gateway, ORDER, intentViewOf(pi), { amount: AMOUNT, key }),
    ).rejects.toMatchObject({ code: 'idempotency_key_in_use' });
    expect(await running).toBe(true);

    const posts = fake.requests().filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    expect(posts.map((r) => r.status)).toEqual([200, 409]);
    expect((await refundsOf(pi.id)).map((r) => r.amount)).toEqual([AMOUNT]);
  });

  it('a dashboard refund is not the backstop’s', async () => {
    const pi = await succeededIntent();
    await fake.dashboardRefund(pi.id, 1000);
    await refundRemainder(gateway, ORDER, intentViewOf(pi));
    const listed = await gateway.listRefunds(pi.id);
    expect(listed.map((r) => [r.amount, r.backstop]).sort()).toEqual([
      [1000, false],
      [AMOUNT - 1000, true],
    ]);
  });
});

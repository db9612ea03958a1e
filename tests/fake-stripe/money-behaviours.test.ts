// The behaviours money depends on, each as Stripe documents it (see infra/fake-stripe/README.md), through
// the real SDK and the /_fake control API.
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IdempotencyStore } from '../../infra/fake-stripe/idempotency.js';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { controlCall, sdk, startReceiver, WEBHOOK_SECRET, type Receiver } from './helpers.js';

let fake: FakeStripe;
let stripe: Stripe;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  fake = await startFakeStripe({ webhookSecret: WEBHOOK_SECRET, webhookUrl: receiver.url });
  stripe = sdk(fake);
});
afterAll(async () => {
  await fake.close();
  await receiver.close();
});
beforeEach(() => {
  fake.reset();
  receiver.reset();
});

const order = { amount: 8400, currency: 'eur' };
const caught = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

const control = (method: string, path: string, body?: unknown) => controlCall(fake, method, path, body);

describe('a 5xx once execution began is saved under the idempotency key', () => {
  it("'saved-before': nothing happened, and the same key replays the 500; a fresh key runs", async () => {
    const pi = await stripe.paymentIntents.create(order);
    fake.injectFault({ method: 'POST', path: '/v1/payment_intents/*/cancel', when: 'saved-before' });
    const first = await caught(stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: 'k-cancel' }));
    expect(first).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');
    const replay = (await caught(
      stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: 'k-cancel' }),
    )) as Stripe.errors.StripeAPIError;
    expect(replay).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(replay.headers?.['idempotent-replayed']).toBe('true');
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');
    const fresh = await stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: 'k-cancel-2' });
    expect(fresh.status).toBe('canceled');
  });

  it("'saved-after': the operation happened, yet the key answers 500 for good", async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    fake.injectFault({ method: 'POST', path: '/v1/refunds', when: 'saved-after' });
    for (let i = 0; i < 2; i++) {
      const err = await caught(
        stripe.refunds.create({ payment_intent: pi.id }, { idempotencyKey: 'k-refund' }),
      );
      expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
    }
    const refunds = await stripe.refunds.list({ payment_intent: pi.id });
    expect(refunds.data.map((r) => r.amount)).toEqual([8400]);
  });

  it('validation errors are not saved; keys are pruned after the TTL', async () => {
    const clock = { now: 0 };
    const store = new IdempotencyStore('reject', 1_000, () => clock.now);
    let runs = 0;
    const run = () =>
      store.run('acct', 'k', 'POST /v1/x', '{}', async () => {
        runs++;
        return { status: 500, body: '{}', requestId: `req_${runs}`, store: true };
      });
    await run();
    clock.now = 999;
    expect(await run()).toMatchObject({ replayed: true });
    clock.now = 1_000;
    expect(await run()).toMatchObject({ replayed: false });
    expect(runs).toBe(2);
  });

  it('a request using a key still in use gets 409 idempotency_key_in_use, and nothing is saved for it', async () => {
    fake.injectFault({
      method: 'POST',
      path: '/v1/payment_intents',
      kind: 'delay',
      ms: 300,
      when: 'saved-before',
    });
    const first = stripe.paymentIntents.create(order, { idempotencyKey: 'k-busy' });
    await new Promise((r) => setTimeout(r, 100));
    const second = (await caught(
      stripe.paymentIntents.create(order, { idempotencyKey: 'k-busy' }),
    )) as Stripe.errors.StripeError;
    expect(second).toMatchObject({ statusCode: 409, code: 'idempotency_key_in_use' });
    const created = await first;
    const later = await stripe.paymentIntents.create(order, { idempotencyKey: 'k-busy' });
    expect(later.id).toBe(created.id);
    expect(fake.paymentIntents()).toHaveLength(1);
  });
});

describe('processing', () => {
  it('goes processing (with its event), refuses cancel, and settles by control call', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_fake_processing',
      confirm: true,
    });
    expect(pi.status).toBe('processing');
    expect(fake.events().map((e) => e.type)).toContain('payment_intent.processing');
    const refused = await caught(stripe.paymentIntents.cancel(pi.id));
    expect(refused).toMatchObject({ code: 'payment_intent_unexpected_state' });
    const settled = await control('POST', `/_fake/payment_intents/${pi.id}/settle`, { outcome: 'fail' });
    expect(settled).toMatchObject({ status: 200, json: { status: 'requires_payment_method' } });
    expect(fake.events().map((e) => e.type)).toContain('payment_intent.payment_failed');
  });

  it('settles on its own after processingSettleMs', async () => {
    const slow = await startFakeStripe({ webhookSecret: WEBHOOK_SECRET, processingSettleMs: 50 });
    try {
      const client = sdk(slow);
      const pi = await client.paymentIntents.create({
        ...order,
        payment_method: 'pm_fake_processing',
        confirm: true,
      });
      await new Promise((r) => setTimeout(r, 150));
      expect((await client.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
    } finally {
      await slow.close();
    }
  });
});

describe('failures are not final; 3-D Secure may finish late', () => {
  it('payment_failed returns the intent to requires_payment_method; the customer confirms again and pays', async () => {
    const pi = await stripe.paymentIntents.create(order);
    await caught(stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined' }));
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');
    const again = await control('POST', `/_fake/payment_intents/${pi.id}/customer_confirm`, {
      payment_method: 'pm_card_visa',
    });
    expect(again).toMatchObject({ status: 200, json: { status: 'succeeded', amount_received: 8400 } });
  });

  it('3-D Secure completed after our side stopped waiting still succeeds while the intent is open, never once cancelled', async () => {
    const open = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    const cancelled = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    await stripe.paymentIntents.cancel(cancelled.id);
    expect((await fake.completeAuthentication(open.id, 'succeed')).status).toBe('succeeded');
    await expect(fake.completeAuthentication(cancelled.id, 'succeed')).rejects.toThrow(/not waiting/);
  });
});

describe('webhooks and events outside the app', () => {
  it('drop: lost events stay in the event log and are never delivered', async () => {
    fake.setWebhookOptions({ drop: 1 });
    const pi = await stripe.paymentIntents.create(order);
    await fake.webhooksIdle();
    // (Deliveries of earlier tests may still land here: only this intent's matter.)
    expect(receiver.received.filter((r) => r.body.includes(pi.id))).toHaveLength(0);
    expect(fake.droppedEvents()).toHaveLength(1);
    expect((await stripe.events.list()).data[0]?.data.object).toMatchObject({ id: pi.id });
    expect((await control('POST', '/_fake/webhook', { drop: 2 })).status).toBe(400);
  });

  it('a dashboard refund (partial, then the rest) sends refund.created and charge.refunded', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    await control('POST', `/_fake/payment_intents/${pi.id}/dashboard_refund`, { amount: 400 });
    await fake.dashboardRefund(pi.id);
    await fake.webhooksIdle();
    const refunded = receiver.received
      .map((r) => JSON.parse(r.body) as Stripe.Event)
      .filter((e) => e.type === 'charge.refunded')
      .map((e) => (e.data.object as Stripe.Charge).amount_refunded);
    expect(refunded).toEqual([400, 8400]);
    expect(receiver.types().filter((t) => t === 'refund.created')).toHaveLength(2);
    expect((await stripe.refunds.list({ payment_intent: pi.id })).data.map((r) => r.amount)).toEqual([
      8000, 400,
    ]);
  });

  it('disputes: charge.dispute.created, then charge.dispute.closed', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    const opened = await control('POST', `/_fake/payment_intents/${pi.id}/dispute`, {});
    const dispute = opened.json as { id: string; status: string; amount: number };
    expect(dispute).toMatchObject({ status: 'needs_response', amount: 8400 });
    expect(
      (await control('POST', `/_fake/disputes/${dispute.id}/close`, { outcome: 'lost' })).json,
    ).toMatchObject({
      status: 'lost',
    });
    expect(
      fake
        .events()
        .map((e) => e.type)
        .slice(-2),
    ).toEqual(['charge.dispute.created', 'charge.dispute.closed']);
  });
});

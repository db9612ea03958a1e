// Webhook deliveries from the fake, verified the way the project's endpoint will: raw body + Stripe-Signature
// through the real SDK's constructEvent.
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signStripePayload, startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { sdk, startReceiver, WEBHOOK_SECRET, type Receiver } from './helpers.js';

let fake: FakeStripe;
let stripe: Stripe;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  fake = await startFakeStripe({
    webhookSecret: WEBHOOK_SECRET,
    webhookUrl: receiver.url,
    // Keep retries fast so failure tests finish quickly.
    webhooks: { retryBackoffMs: 20 },
  });
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
afterEach(() => fake.webhooksIdle(5_000));

const order = { amount: 1999, currency: 'usd', metadata: { order_id: 'ord_7', tenant_id: 'ten_7' } };

function verify(index: number): Stripe.Event {
  const r = receiver.received[index]!;
  return stripe.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, WEBHOOK_SECRET);
}

describe('signing', () => {
  it('signStripePayload matches the SDK’s generateTestHeaderString and verifies with constructEvent', () => {
    const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'payment_intent.succeeded' });
    const t = Math.floor(Date.now() / 1000);
    const ours = signStripePayload(payload, WEBHOOK_SECRET, t);
    const theirs = stripe.webhooks.generateTestHeaderString({
      payload,
      secret: WEBHOOK_SECRET,
      timestamp: t,
    });
    expect(ours).toBe(theirs);
    expect(ours).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(stripe.webhooks.constructEvent(payload, ours, WEBHOOK_SECRET).id).toBe('evt_1');
  });

  it('a forged or stale header fails verification', () => {
    const payload = '{"id":"evt_2"}';
    const forged = signStripePayload(payload, 'whsec_wrong');
    expect(() => stripe.webhooks.constructEvent(payload, forged, WEBHOOK_SECRET)).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
    const stale = signStripePayload(payload, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 3_600);
    expect(() => stripe.webhooks.constructEvent(payload, stale, WEBHOOK_SECRET)).toThrow(/tolerance/);
  });
});

describe('deliveries', () => {
  it('sends signed, Stripe-shaped events for create + confirm, in order', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    await fake.webhooksIdle();
    expect(receiver.types()).toEqual([
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.succeeded',
    ]);

    const event = verify(2);
    expect(event).toMatchObject({
      object: 'event',
      type: 'payment_intent.succeeded',
      livemode: false,
      // The fake's default must follow the installed SDK's pinned version; this fails on an SDK bump.
      api_version: Stripe.API_VERSION,
      data: {
        object: { id: pi.id, object: 'payment_intent', status: 'succeeded', metadata: order.metadata },
      },
    });
    expect(event.id).toMatch(/^evt_/);
    expect(event.request).toMatchObject({ id: pi.lastResponse.requestId });
    // Each event is a snapshot taken at its moment, not the intent's latest state.
    expect(verify(0).data.object).toMatchObject({ status: 'requires_confirmation' });

    const headers = receiver.received[0]!.headers;
    expect(headers['content-type']).toMatch(/^application\/json/);
    expect(headers['user-agent']).toMatch(/^Stripe\//);
    expect(fake.deliveries().every((d) => d.ok && d.attempt === 1)).toBe(true);
  });

  it('a decline produces payment_intent.payment_failed with last_payment_error', async () => {
    await stripe.paymentIntents
      .create({ ...order, payment_method: 'pm_card_chargeDeclined', confirm: true })
      .catch(() => undefined);
    await fake.webhooksIdle();
    expect(receiver.types()).toEqual([
      'payment_intent.created',
      'charge.failed',
      'payment_intent.payment_failed',
    ]);
    expect(verify(2).data.object).toMatchObject({
      status: 'requires_payment_method',
      last_payment_error: { code: 'card_declined' },
    });
  });

  it('requires_action → completeAuthentication → payment_intent.succeeded webhook', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    await fake.webhooksIdle();
    expect(receiver.types()).toEqual(['payment_intent.created', 'payment_intent.requires_action']);

    await fake.completeAuthentication(pi.id, 'succeed');
    await fake.webhooksIdle();
    expect(receiver.types().slice(2)).toEqual(['charge.succeeded', 'payment_intent.succeeded']);
    const event = verify(3);
    expect(event.data.object).toMatchObject({ id: pi.id, status: 'succeeded' });
    // Completed by the "customer", not by an API request.
    expect(event.request).toEqual({ id: null, idempotency_key: null });
  });

  it('cancel and refund send payment_intent.canceled and charge.refunded', async () => {
    const a = await stripe.paymentIntents.create(order);
    await stripe.paymentIntents.cancel(a.id);
    const b = await stripe.paymentIntents.create({ ...order, payment_method: 'pm_card_visa', confirm: true });
    await stripe.refunds.create({ payment_intent: b.id });
    await fake.webhooksIdle();
    const types = receiver.types();
    expect(types).toContain('payment_intent.canceled');
    expect(types).toContain('charge.refunded');
    const refunded = verify(types.indexOf('charge.refunded'));
    expect(refunded.data.object).toMatchObject({ object: 'charge', refunded: true, payment_intent: b.id });
  });

  it('duplicate: 2 delivers every event twice with the same event id', async () => {
    fake.setWebhookOptions({ duplicate: 2 });
    await stripe.paymentIntents.create(order);
    await fake.webhooksIdle();
    expect(receiver.received).toHaveLength(2);
    const [first, second] = [verify(0), verify(1)];
    expect(second.id).toBe(first.id);
    expect(fake.deliveries().map((d) => d.copy)).toEqual([1, 2]);
  });

  it("order: 'reverse' delivers one call's events newest first", async () => {
    fake.setWebhookOptions({ order: 'reverse', batchWindowMs: 50 });
    await stripe.paymentIntents.create({ ...order, payment_method: 'pm_card_visa', confirm: true });
    await fake.webhooksIdle();
    expect(receiver.types()).toEqual([
      'payment_intent.succeeded',
      'charge.succeeded',
      'payment_intent.created',
    ]);
  });

  it('paused deliveries are held, then released as one (reordered) batch across several calls', async () => {
    fake.setWebhookOptions({ paused: true, order: 'reverse' });
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    await fake.completeAuthentication(pi.id, 'succeed');
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.received).toHaveLength(0);
    fake.setWebhookOptions({ paused: false });
    await fake.webhooksIdle();
    expect(receiver.types()).toEqual([
      'payment_intent.succeeded',
      'charge.succeeded',
      'payment_intent.requires_action',
      'payment_intent.created',
    ]);
  });

  it("order: 'shuffle' delivers every event exactly once", async () => {
    fake.setWebhookOptions({ order: 'shuffle', batchWindowMs: 30 });
    for (let i = 0; i < 3; i++) {
      await stripe.paymentIntents.create({ ...order, payment_method: 'pm_card_visa', confirm: true });
    }
    await fake.webhooksIdle();
    expect(receiver.received).toHaveLength(9);
    expect(new Set(receiver.received.map((_, i) => verify(i).id)).size).toBe(9);
  });

  it('delayMs holds each event back', async () => {
    fake.setWebhookOptions({ delayMs: 250 });
    const t0 = Date.now();
    await stripe.paymentIntents.create(order);
    await fake.webhooksIdle();
    expect(receiver.received[0]!.at - t0).toBeGreaterThanOrEqual(240);
  });

  it('failed deliveries are retried with backoff and re-signed', async () => {
    receiver.failNext(500, 503);
    await stripe.paymentIntents.create(order);
    await fake.webhooksIdle();
    const log = fake.deliveries();
    expect(log.map((d) => [d.attempt, d.status, d.ok])).toEqual([
      [1, 500, false],
      [2, 503, false],
      [3, 200, true],
    ]);
    expect(log[1]!.sentAt - log[0]!.sentAt).toBeGreaterThanOrEqual(15);
    expect(receiver.received).toHaveLength(3);
    expect(verify(2).id).toBe(verify(0).id);
  });

  it('gives up after maxAttempts', async () => {
    fake.setWebhookOptions({ maxAttempts: 2 });
    receiver.failNext(500, 500, 500);
    await stripe.paymentIntents.create(order);
    await fake.webhooksIdle();
    expect(fake.deliveries().map((d) => d.ok)).toEqual([false, false]);
  });

  it('an unreachable endpoint is recorded as a network error and retried', async () => {
    fake.setWebhookUrl('http://127.0.0.1:1/nowhere');
    fake.setWebhookOptions({ maxAttempts: 2 });
    await stripe.paymentIntents.create(order);
    await fake.webhooksIdle();
    const log = fake.deliveries();
    expect(log).toHaveLength(2);
    expect(log.every((d) => d.status === null && d.error !== null)).toBe(true);
  });

  it('enabled: false sends nothing but still records events', async () => {
    fake.setWebhookOptions({ enabled: false });
    await stripe.paymentIntents.create(order);
    await fake.webhooksIdle();
    expect(receiver.received).toHaveLength(0);
    expect(fake.events()).toHaveLength(1);
  });

  it('enabledEvents filters event types like a webhook endpoint subscription', async () => {
    fake.setWebhookOptions({ enabledEvents: ['payment_intent.succeeded'] });
    await stripe.paymentIntents.create({ ...order, payment_method: 'pm_card_visa', confirm: true });
    await fake.webhooksIdle();
    expect(receiver.types()).toEqual(['payment_intent.succeeded']);
  });

  it('reset() restores the start options', async () => {
    fake.setWebhookOptions({ duplicate: 3, enabled: false });
    fake.reset();
    expect(fake.webhookOptions()).toMatchObject({ duplicate: 1, enabled: true, retryBackoffMs: 20 });
    expect(fake.webhookUrl()).toBe(receiver.url);
  });

  it('rejects invalid options', () => {
    expect(() => fake.setWebhookOptions({ duplicate: 0 })).toThrow(TypeError);
    expect(() => fake.setWebhookOptions({ order: 'sideways' as 'reverse' })).toThrow(TypeError);
    expect(() => fake.setWebhookUrl('not a url')).toThrow();
  });
});

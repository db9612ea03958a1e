// The /_fake control API over plain HTTP — what a test in another process (or a person with curl) uses.
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { controlCall, sdk, startReceiver, WEBHOOK_SECRET, type Receiver } from './helpers.js';

let fake: FakeStripe;
let stripe: Stripe;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  fake = await startFakeStripe({ webhookSecret: WEBHOOK_SECRET });
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

const control = (method: string, path: string, body?: unknown) => controlCall(fake, method, path, body);

const order = { amount: 1000, currency: 'usd' };

describe('control API', () => {
  it('health, state listings and reset', async () => {
    expect(await control('GET', '/_fake/health')).toEqual({ status: 200, json: { ok: true } });
    const pi = await stripe.paymentIntents.create(order);
    const intents = await control('GET', '/_fake/payment_intents');
    expect((intents.json as Array<{ id: string }>).map((p) => p.id)).toEqual([pi.id]);
    const requests = (await control('GET', '/_fake/requests')).json as Array<{
      path: string;
      params: unknown;
    }>;
    expect(requests[0]).toMatchObject({
      path: '/v1/payment_intents',
      params: { amount: '1000', currency: 'usd' },
    });
    expect(((await control('GET', '/_fake/events')).json as unknown[]).length).toBe(1);
    expect((await control('POST', '/_fake/reset')).status).toBe(200);
    expect(fake.paymentIntents()).toHaveLength(0);
  });

  it('configures webhooks at run time and flushes them', async () => {
    const set = await control('POST', '/_fake/webhook', { url: receiver.url, duplicate: 2 });
    expect(set.json).toMatchObject({ url: receiver.url, options: { duplicate: 2 } });
    await stripe.paymentIntents.create(order);
    expect(await control('POST', '/_fake/webhook/flush', { timeoutMs: 5_000 })).toMatchObject({
      status: 200,
    });
    expect(receiver.received).toHaveLength(2);
    const deliveries = (await control('GET', '/_fake/deliveries')).json as Array<{ eventType: string }>;
    expect(deliveries.map((d) => d.eventType)).toEqual(['payment_intent.created', 'payment_intent.created']);
    expect((await control('POST', '/_fake/webhook', { order: 'backwards' })).status).toBe(400);

    // Stripe-style "Resend": the same event id again, freshly signed.
    const eventId = (JSON.parse(receiver.received[0]!.body) as { id: string }).id;
    expect((await control('POST', `/_fake/events/${eventId}/redeliver`)).status).toBe(200);
    await fake.webhooksIdle();
    expect(receiver.received.map((r) => (JSON.parse(r.body) as { id: string }).id)).toEqual(
      Array(4).fill(eventId),
    );
    expect((await control('POST', '/_fake/events/evt_nope/redeliver')).status).toBe(404);
  });

  it('injects, lists and clears faults', async () => {
    const added = await control('POST', '/_fake/faults', [
      { method: 'POST', path: '/v1/payment_intents/*/confirm', kind: 'error', status: 502, times: 2 },
      { path: '/v1/refunds', kind: 'timeout', ms: 50 },
    ]);
    expect(added.status).toBe(200);
    expect((await control('GET', '/_fake/faults')).json).toHaveLength(2);

    const pi = await stripe.paymentIntents.create({ ...order, payment_method: 'pm_card_visa' });
    await expect(stripe.paymentIntents.confirm(pi.id)).rejects.toMatchObject({ statusCode: 502 });
    expect(fake.faults()[0]!.remaining).toBe(1);

    expect((await control('DELETE', '/_fake/faults')).status).toBe(200);
    await expect(stripe.paymentIntents.confirm(pi.id)).resolves.toMatchObject({ status: 'succeeded' });
    expect((await control('POST', '/_fake/faults', { path: 'relative' })).status).toBe(400);
  });

  it('completes authentication over HTTP', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    const done = await control('POST', `/_fake/payment_intents/${pi.id}/authenticate`, {
      outcome: 'succeed',
    });
    expect(done).toMatchObject({ status: 200, json: { id: pi.id, status: 'succeeded' } });
    const again = await control('POST', `/_fake/payment_intents/${pi.id}/authenticate`, {
      outcome: 'succeed',
    });
    expect(again.status).toBe(400);
    const missing = await control('POST', '/_fake/payment_intents/pi_nope/authenticate', { outcome: 'fail' });
    expect(missing.status).toBe(404);
    expect(
      (await control('POST', `/_fake/payment_intents/${pi.id}/authenticate`, { outcome: 'maybe' })).status,
    ).toBe(400);
  });

  it('the 3-D Secure page from next_action redirects to return_url like Stripe', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
      return_url: 'https://shop.example/return?cart=1',
    });
    const page = await control('GET', new URL(pi.next_action!.redirect_to_url!.url!).pathname);
    expect(page.status).toBe(200);
    expect(page.json).toContain('outcome=succeed');

    const res = await fetch(`${pi.next_action!.redirect_to_url!.url!}?outcome=succeed`, {
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('https://shop.example/return');
    expect(Object.fromEntries(location.searchParams)).toEqual({
      cart: '1',
      payment_intent: pi.id,
      payment_intent_client_secret: pi.client_secret,
      redirect_status: 'succeeded',
    });
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
  });

  it('unknown control routes are 404, not Stripe errors', async () => {
    expect((await control('GET', '/_fake/nope')).status).toBe(404);
  });
});

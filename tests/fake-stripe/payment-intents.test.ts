// The PaymentIntent lifecycle as the real stripe SDK sees it against the fake.
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { sdk, WEBHOOK_SECRET } from './helpers.js';

let fake: FakeStripe;
let stripe: Stripe;

beforeAll(async () => {
  fake = await startFakeStripe({ webhookSecret: WEBHOOK_SECRET });
  stripe = sdk(fake);
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const order = { amount: 2599, currency: 'usd', metadata: { order_id: 'ord_1', tenant_id: 'ten_1' } };

describe('authentication', () => {
  it('rejects a key without the sk_test_ prefix with a 401 the SDK maps to StripeAuthenticationError', async () => {
    const live = new Stripe('sk_live_nope_1234567890', {
      host: '127.0.0.1',
      port: fake.port,
      protocol: 'http',
    });
    const err = await live.paymentIntents.create(order).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect((err as Stripe.errors.StripeError).statusCode).toBe(401);
    expect(fake.paymentIntents()).toHaveLength(0);
  });

  it('rejects a request without an Authorization header', async () => {
    const res = await fetch(`${fake.url}/v1/payment_intents`, { method: 'GET' });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/did not provide an API key/);
  });

  it('accepts curl-style basic auth', async () => {
    const res = await fetch(`${fake.url}/v1/payment_intents`, {
      headers: { Authorization: `Basic ${Buffer.from('sk_test_abc:').toString('base64')}` },
    });
    expect(res.status).toBe(200);
  });
});

describe('create and confirm', () => {
  it('creates an intent shaped like Stripe’s, with metadata and a client secret', async () => {
    const pi = await stripe.paymentIntents.create(order);
    expect(pi).toMatchObject({
      object: 'payment_intent',
      amount: 2599,
      currency: 'usd',
      status: 'requires_payment_method',
      metadata: { order_id: 'ord_1', tenant_id: 'ten_1' },
      livemode: false,
      latest_charge: null,
      last_payment_error: null,
      next_action: null,
      capture_method: 'automatic',
    });
    expect(pi.id).toMatch(/^pi_[A-Za-z0-9]{24}$/);
    expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_[A-Za-z0-9]+$`));
    expect(Math.abs(pi.created - Date.now() / 1000)).toBeLessThan(5);
    expect(pi.lastResponse.requestId).toMatch(/^req_/);
  });

  it('pm_card_visa: create, then confirm → succeeded with a charge', async () => {
    const created = await stripe.paymentIntents.create({ ...order, payment_method: 'pm_card_visa' });
    expect(created.status).toBe('requires_confirmation');
    const pi = await stripe.paymentIntents.confirm(created.id);
    expect(pi.status).toBe('succeeded');
    expect(pi.amount_received).toBe(2599);
    expect(pi.latest_charge).toMatch(/^ch_/);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ status: 'succeeded', paid: true, captured: true, payment_intent: pi.id });
  });

  it('pm_card_visa: confirm=true on create succeeds in one call', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    });
    expect(pi.status).toBe('succeeded');
    expect(pi.automatic_payment_methods).toEqual({ enabled: true, allow_redirects: 'never' });
  });

  it('pm_card_chargeDeclined: 402 card_declined, intent back to requires_payment_method with last_payment_error', async () => {
    const created = await stripe.paymentIntents.create(order);
    const err = await stripe.paymentIntents
      .confirm(created.id, { payment_method: 'pm_card_chargeDeclined' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    const cardErr = err as Stripe.errors.StripeCardError;
    expect(cardErr.statusCode).toBe(402);
    expect(cardErr.code).toBe('card_declined');
    expect(cardErr.decline_code).toBe('generic_decline');
    expect(cardErr.charge).toMatch(/^ch_/);
    expect(cardErr.payment_intent?.id).toBe(created.id);
    expect(cardErr.payment_intent?.status).toBe('requires_payment_method');

    const pi = await stripe.paymentIntents.retrieve(created.id);
    expect(pi.status).toBe('requires_payment_method');
    expect(pi.payment_method).toBeNull();
    expect(pi.last_payment_error).toMatchObject({
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'generic_decline',
      message: 'Your card was declined.',
    });
    const charge = await stripe.charges.retrieve(cardErr.charge!);
    expect(charge).toMatchObject({ status: 'failed', paid: false, failure_code: 'card_declined' });
  });

  it('a declined intent can be retried with another card', async () => {
    const created = await stripe.paymentIntents.create(order);
    await expect(
      stripe.paymentIntents.confirm(created.id, {
        payment_method: 'pm_card_chargeDeclinedInsufficientFunds',
      }),
    ).rejects.toMatchObject({ decline_code: 'insufficient_funds' });
    const pi = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa' });
    expect(pi.status).toBe('succeeded');
    expect(pi.last_payment_error).toBeNull();
  });

  it('create+confirm with a declining card still creates the intent (like Stripe)', async () => {
    await expect(
      stripe.paymentIntents.create({ ...order, payment_method: 'pm_card_chargeDeclined', confirm: true }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeCardError);
    const all = fake.paymentIntents();
    expect(all).toHaveLength(1);
    expect(all[0]!.status).toBe('requires_payment_method');
  });

  it('pm_card_authenticationRequired: requires_action with use_stripe_sdk, then completeAuthentication → succeeded', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    expect(pi.status).toBe('requires_action');
    expect(pi.next_action?.type).toBe('use_stripe_sdk');
    expect(pi.client_secret).toBeTruthy();

    await fake.completeAuthentication(pi.id, 'succeed');
    const done = await stripe.paymentIntents.retrieve(pi.id);
    expect(done.status).toBe('succeeded');
    expect(done.next_action).toBeNull();
    expect(done.latest_charge).toMatch(/^ch_/);
  });

  it('requires_action with return_url → redirect_to_url next action', async () => {
    const created = await stripe.paymentIntents.create(order);
    const pi = await stripe.paymentIntents.confirm(created.id, {
      payment_method: 'pm_card_authenticationRequired',
      return_url: 'https://shop.example/return',
    });
    expect(pi.next_action).toMatchObject({
      type: 'redirect_to_url',
      redirect_to_url: { return_url: 'https://shop.example/return' },
    });
    expect(pi.next_action?.redirect_to_url?.url).toBe(`${fake.url}/_fake/3ds/${pi.id}`);
  });

  it('failed authentication → requires_payment_method with payment_intent_authentication_failure', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    await fake.completeAuthentication(pi.id, 'fail');
    const failed = await stripe.paymentIntents.retrieve(pi.id);
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.last_payment_error?.code).toBe('payment_intent_authentication_failure');
    await expect(fake.completeAuthentication(pi.id, 'succeed')).rejects.toThrow(
      /not waiting for authentication/,
    );
  });

  it('authentication passed but the card then declines', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_authenticationRequiredChargeDeclinedInsufficientFunds',
      confirm: true,
    });
    const after = await fake.completeAuthentication(pi.id, 'succeed');
    expect(after.status).toBe('requires_payment_method');
    expect(after.last_payment_error?.decline_code).toBe('insufficient_funds');
  });

  it('off-session payments that need authentication fail with authentication_required', async () => {
    const err = await stripe.paymentIntents
      .create({
        ...order,
        payment_method: 'pm_card_authenticationRequired',
        confirm: true,
        off_session: true,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect((err as Stripe.errors.StripeCardError).code).toBe('authentication_required');
  });
});

describe('validation and state errors', () => {
  it('unknown intent → 404 resource_missing', async () => {
    const err = await stripe.paymentIntents.retrieve('pi_missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'intent' });
  });

  it('unknown payment method → resource_missing on payment_method', async () => {
    await expect(
      stripe.paymentIntents.create({ ...order, payment_method: 'pm_card_nonsense' }),
    ).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'payment_method' });
  });

  it('missing amount / too small amount → 400 naming the parameter', async () => {
    await expect(
      stripe.paymentIntents.create({ currency: 'usd' } as Stripe.PaymentIntentCreateParams),
    ).rejects.toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'amount' });
    await expect(stripe.paymentIntents.create({ amount: 10, currency: 'usd' })).rejects.toMatchObject({
      code: 'amount_too_small',
    });
  });

  it('confirming a succeeded intent or canceling it → payment_intent_unexpected_state', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    await expect(stripe.paymentIntents.confirm(pi.id)).rejects.toMatchObject({
      statusCode: 400,
      code: 'payment_intent_unexpected_state',
    });
    await expect(stripe.paymentIntents.cancel(pi.id)).rejects.toMatchObject({
      code: 'payment_intent_unexpected_state',
    });
  });

  it('unknown endpoint → 404 "Unrecognized request URL"', async () => {
    await expect(stripe.customers.create({})).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('cancel, update, capture, list, refunds', () => {
  it('cancels an intent waiting for action', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    const canceled = await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'abandoned' });
    expect(canceled).toMatchObject({
      status: 'canceled',
      cancellation_reason: 'abandoned',
      next_action: null,
    });
    expect(canceled.canceled_at).toBeGreaterThan(0);
    await expect(fake.completeAuthentication(pi.id, 'succeed')).rejects.toThrow();
  });

  it('updates metadata (empty value deletes a key) and amount', async () => {
    const pi = await stripe.paymentIntents.create(order);
    const updated = await stripe.paymentIntents.update(pi.id, {
      amount: 3000,
      metadata: { tenant_id: '', note: 'x' },
    });
    expect(updated.amount).toBe(3000);
    expect(updated.metadata).toEqual({ order_id: 'ord_1', note: 'x' });
  });

  it('manual capture: requires_capture, then capture → succeeded', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
      capture_method: 'manual',
    });
    expect(pi).toMatchObject({ status: 'requires_capture', amount_capturable: 2599, amount_received: 0 });
    const captured = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 2000 });
    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 2000, amount_capturable: 0 });
  });

  it('expands latest_charge', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    const expanded = await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
    expect(expanded.latest_charge).toMatchObject({ object: 'charge', payment_intent: pi.id, amount: 2599 });
  });

  it('expands a list item’s latest_charge under data. (what reconciliation reads refunds from)', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    await stripe.refunds.create({ payment_intent: pi.id, amount: 599 });
    const page = await stripe.paymentIntents.list({ limit: 1, expand: ['data.latest_charge'] });
    expect(page.data[0]?.latest_charge).toMatchObject({ object: 'charge', amount_refunded: 599 });
    const plain = await stripe.paymentIntents.list({ limit: 1 });
    expect(typeof plain.data[0]?.latest_charge).toBe('string');
  });

  it('lists newest first with cursor pagination the SDK can auto-page', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await stripe.paymentIntents.create(order)).id);
    const page = await stripe.paymentIntents.list({ limit: 2 });
    expect(page.object).toBe('list');
    expect(page.has_more).toBe(true);
    expect(page.data.map((p) => p.id)).toEqual([ids[4], ids[3]]);
    const all = await stripe.paymentIntents.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(all.map((p) => p.id)).toEqual([...ids].reverse());
  });

  it('refunds partially, then the rest; a further refund is refused', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    const first = await stripe.refunds.create({ payment_intent: pi.id, amount: 599 });
    expect(first).toMatchObject({
      object: 'refund',
      amount: 599,
      status: 'succeeded',
      payment_intent: pi.id,
    });
    const rest = await stripe.refunds.create({ payment_intent: pi.id });
    expect(rest.amount).toBe(2000);
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ amount_refunded: 2599, refunded: true });
    await expect(stripe.refunds.create({ payment_intent: pi.id })).rejects.toMatchObject({
      code: 'charge_already_refunded',
    });
    expect((await stripe.refunds.retrieve(first.id)).id).toBe(first.id);
  });

  it('exposes the event log through GET /v1/events', async () => {
    const pi = await stripe.paymentIntents.create({
      ...order,
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    const events = await stripe.events.list({ limit: 10 });
    expect(events.data.map((e) => e.type)).toEqual([
      'payment_intent.succeeded',
      'charge.succeeded',
      'payment_intent.created',
    ]);
    const one = await stripe.events.retrieve(events.data[0]!.id);
    expect(one.data.object).toMatchObject({ id: pi.id, status: 'succeeded' });
    const filtered = await stripe.events.list({ type: 'payment_intent.*' });
    expect(filtered.data).toHaveLength(2);
  });
});

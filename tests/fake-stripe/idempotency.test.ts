// Idempotency keys and injected faults, through the real SDK — including its own retry loop, which re-sends
// POSTs with the same Idempotency-Key after a 5xx or a connection failure.
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StripeApiError } from '../../infra/fake-stripe/errors.js';
import { IdempotencyStore } from '../../infra/fake-stripe/idempotency.js';
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

const params = { amount: 5000, currency: 'eur', metadata: { order_id: 'ord_42' } };
const posts = (path: string): ReturnType<FakeStripe['requests']> =>
  fake.requests().filter((r) => r.method === 'POST' && r.path === path);

describe('idempotency keys', () => {
  it('same key + same parameters → the stored response, replayed, and no second intent', async () => {
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'order-ord_42-create' });
    const second = await stripe.paymentIntents.create(params, { idempotencyKey: 'order-ord_42-create' });
    expect(second.id).toBe(first.id);
    expect(second.client_secret).toBe(first.client_secret);
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(second.lastResponse.headers['original-request']).toBe(first.lastResponse.requestId);
    expect(second.lastResponse.idempotencyKey).toBe('order-ord_42-create');
    expect(fake.paymentIntents()).toHaveLength(1);
    expect(fake.events().filter((e) => e.type === 'payment_intent.created')).toHaveLength(1);
  });

  it('parameter order does not matter, values do', async () => {
    await stripe.paymentIntents.create(
      { amount: 5000, currency: 'eur', metadata: { a: '1', b: '2' } },
      { idempotencyKey: 'k-order' },
    );
    const again = await stripe.paymentIntents.create(
      { metadata: { b: '2', a: '1' }, currency: 'eur', amount: 5000 },
      { idempotencyKey: 'k-order' },
    );
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
  });

  it('same key + different parameters → 400 idempotency_error (StripeIdempotencyError)', async () => {
    await stripe.paymentIntents.create(params, { idempotencyKey: 'k1' });
    const err = await stripe.paymentIntents
      .create({ ...params, amount: 5001 }, { idempotencyKey: 'k1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(err).toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });
    expect(fake.paymentIntents()).toHaveLength(1);
  });

  it('same key on another endpoint → idempotency_error', async () => {
    const pi = await stripe.paymentIntents.create(params, { idempotencyKey: 'k2' });
    await expect(stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: 'k2' })).rejects.toBeInstanceOf(
      Stripe.errors.StripeIdempotencyError,
    );
  });

  it('keys are scoped per API key', async () => {
    const other = sdk(fake);
    const otherAccount = new Stripe('sk_test_other_account', {
      host: '127.0.0.1',
      port: fake.port,
      protocol: 'http',
    });
    const a = await other.paymentIntents.create(params, { idempotencyKey: 'shared' });
    const b = await otherAccount.paymentIntents.create(params, { idempotencyKey: 'shared' });
    expect(b.id).not.toBe(a.id);
  });

  it('a decline is saved too: the retry replays the same 402 without a second charge', async () => {
    const pi = await stripe.paymentIntents.create(params);
    const confirm = (): Promise<unknown> =>
      stripe.paymentIntents
        .confirm(pi.id, { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: 'confirm-1' })
        .catch((e: unknown) => e);
    const e1 = (await confirm()) as Stripe.errors.StripeCardError;
    const e2 = (await confirm()) as Stripe.errors.StripeCardError;
    expect(e1.code).toBe('card_declined');
    expect(e2.code).toBe('card_declined');
    expect(e2.charge).toBe(e1.charge);
    expect(e2.headers?.['idempotent-replayed']).toBe('true');
    expect(fake.events().filter((e) => e.type === 'charge.failed')).toHaveLength(1);
  });

  it('a validation failure is not saved: a corrected request with the same key runs', async () => {
    await expect(
      stripe.paymentIntents.create({ amount: 1, currency: 'usd' }, { idempotencyKey: 'fix-me' }),
    ).rejects.toMatchObject({ code: 'amount_too_small' });
    const pi = await stripe.paymentIntents.create(
      { amount: 100, currency: 'usd' },
      { idempotencyKey: 'fix-me' },
    );
    expect(pi.amount).toBe(100);
  });

  it('20 concurrent creates with one key → one intent, every caller gets it', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => stripe.paymentIntents.create(params, { idempotencyKey: 'burst' })),
    );
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(fake.paymentIntents()).toHaveLength(1);
    expect(results.filter((r) => r.lastResponse.headers['idempotent-replayed'] === 'true')).toHaveLength(19);
  });

  it("'reject' mode answers 409 idempotency_key_in_use while the first request is still running", async () => {
    const store = new IdempotencyStore('reject');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = store.run('acct', 'k', 'POST /v1/x', '{}', async () => {
      await gate;
      return { status: 200, body: '{}', requestId: 'req_1', store: true };
    });
    const second = store.run('acct', 'k', 'POST /v1/x', '{}', async () => {
      throw new Error('must not run');
    });
    await expect(second).rejects.toSatisfy((e) => e instanceof StripeApiError && e.status === 409);
    release();
    await expect(first).resolves.toMatchObject({ replayed: false });
    await expect(
      store.run('acct', 'k', 'POST /v1/x', '{}', async () => {
        throw new Error('must not run');
      }),
    ).resolves.toMatchObject({ replayed: true });
  });

  it('GET requests ignore idempotency keys', async () => {
    const pi = await stripe.paymentIntents.create(params);
    await stripe.paymentIntents.retrieve(pi.id, {}, { idempotencyKey: 'get-key' });
    const get = fake.requests().find((r) => r.method === 'GET')!;
    expect(get.idempotencyKey).toBeNull();
  });
});

describe('injected faults', () => {
  it('a 500 is seen by an SDK without retries, and nothing was created', async () => {
    fake.injectFault({ method: 'POST', path: '/v1/payment_intents', kind: 'error' });
    const err = await stripe.paymentIntents.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(err).toMatchObject({ statusCode: 500, rawType: 'api_error' });
    expect(fake.paymentIntents()).toHaveLength(0);
    // The fault is used up: the next request goes through.
    await expect(stripe.paymentIntents.create(params)).resolves.toMatchObject({
      status: 'requires_payment_method',
    });
  });

  it('by default an injected 500 struck inside the endpoint: saved, so a retry with the same key gets it again', async () => {
    const retrying = sdk(fake, { maxNetworkRetries: 2 });
    fake.injectFault({ path: '/v1/payment_intents', times: 1 });
    await expect(
      retrying.paymentIntents.create(params, { idempotencyKey: 'saved-by-default' }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
    const attempts = posts('/v1/payment_intents');
    expect(attempts.map((r) => [r.status, r.replayed])).toEqual([
      [500, false],
      [500, true],
      [500, true],
    ]);
    expect(fake.paymentIntents()).toHaveLength(0);
  });

  it('a replay of a saved 500 does not use up an injected fault: only requests the endpoint runs do', async () => {
    fake.injectFault({ path: '/v1/payment_intents', times: 2 });
    const plain = sdk(fake);
    const attempt = (key: string) =>
      plain.paymentIntents.create(params, { idempotencyKey: key }).then(
        () => 200,
        (e: { statusCode?: number }) => e.statusCode,
      );
    // The first key's 500 is saved and replayed; Stripe answers a replay without running anything,
    // so the second injected 500 is still there for the next key the endpoint runs.
    expect(await attempt('fault-a')).toBe(500);
    expect(await attempt('fault-a')).toBe(500);
    expect(await attempt('fault-b')).toBe(500);
    expect(await attempt('fault-c')).toBe(200);
    expect(posts('/v1/payment_intents').map((r) => [r.status, r.replayed])).toEqual([
      [500, false],
      [500, true],
      [500, false],
      [200, false],
    ]);
    expect(fake.paymentIntents()).toHaveLength(1);
  });

  it('a 500 in front of the API (when: before): an SDK with maxNetworkRetries: 2 gets through, re-sending the same key', async () => {
    const retrying = sdk(fake, { maxNetworkRetries: 2 });
    fake.injectFault({ path: '/v1/payment_intents', times: 1, when: 'before' });
    const pi = await retrying.paymentIntents.create(params, { idempotencyKey: 'retry-me' });
    expect(pi.status).toBe('requires_payment_method');
    const attempts = posts('/v1/payment_intents');
    expect(attempts.map((r) => r.status)).toEqual([500, 200]);
    expect(attempts.map((r) => r.idempotencyKey)).toEqual(['retry-me', 'retry-me']);
    expect(fake.paymentIntents()).toHaveLength(1);
  });

  it('the SDK’s own generated key also survives a retry (no explicit idempotencyKey)', async () => {
    const retrying = sdk(fake, { maxNetworkRetries: 2 });
    fake.injectFault({ path: '/v1/payment_intents', times: 2, status: 503, when: 'before' });
    await retrying.paymentIntents.create(params);
    const keys = posts('/v1/payment_intents').map((r) => r.idempotencyKey);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^stripe-node-retry-/);
  });

  it("a 500 after the operation: the intent exists, and the SDK's retry replays it instead of creating another", async () => {
    const retrying = sdk(fake, { maxNetworkRetries: 2 });
    fake.injectFault({ path: '/v1/payment_intents', when: 'after' });
    const pi = await retrying.paymentIntents.create(params, { idempotencyKey: 'lost-response' });
    expect(fake.paymentIntents().map((p) => p.id)).toEqual([pi.id]);
    const attempts = posts('/v1/payment_intents');
    expect(attempts.map((r) => [r.status, r.replayed])).toEqual([
      [500, false],
      [200, true],
    ]);
  });

  it('without retries, an "after" 500 leaves an intent the caller never saw; a manual retry with the key finds it', async () => {
    fake.injectFault({ path: '/v1/payment_intents', when: 'after' });
    await expect(stripe.paymentIntents.create(params, { idempotencyKey: 'k-after' })).rejects.toBeInstanceOf(
      Stripe.errors.StripeAPIError,
    );
    expect(fake.paymentIntents()).toHaveLength(1);
    const pi = await stripe.paymentIntents.create(params, { idempotencyKey: 'k-after' });
    expect(pi.id).toBe(fake.paymentIntents()[0]!.id);
  });

  it('a hung request makes the SDK time out; nothing happened', async () => {
    const impatient = sdk(fake, { timeout: 200 });
    fake.injectFault({ path: '/v1/payment_intents', kind: 'timeout', ms: 2_000 });
    const started = Date.now();
    const err = await impatient.paymentIntents.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect((err as Error).message).toMatch(/timeout/i);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(fake.paymentIntents()).toHaveLength(0);
  });

  it('a timeout after the operation + SDK retry → one intent, answered by replay', async () => {
    const impatient = sdk(fake, { timeout: 200, maxNetworkRetries: 1 });
    fake.injectFault({ path: '/v1/payment_intents/*/confirm', kind: 'timeout', ms: 2_000, when: 'after' });
    const created = await impatient.paymentIntents.create(params);
    const pi = await impatient.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa' });
    expect(pi.status).toBe('succeeded');
    const confirms = fake.requests().filter((r) => r.path.endsWith('/confirm'));
    expect(confirms.map((r) => [r.status, r.replayed])).toEqual([
      [null, false],
      [200, true],
    ]);
    expect(fake.events().filter((e) => e.type === 'payment_intent.succeeded')).toHaveLength(1);
  });

  it('delay faults add latency but answer normally; method filters and counts are honored', async () => {
    fake.injectFault({ method: 'GET', path: '/v1/payment_intents/**', kind: 'delay', ms: 150, times: 2 });
    const pi = await stripe.paymentIntents.create(params); // POST: not matched
    expect(fake.faults()).toHaveLength(1);
    const t0 = Date.now();
    await stripe.paymentIntents.retrieve(pi.id);
    await stripe.paymentIntents.retrieve(pi.id);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(fake.faults()).toHaveLength(0);
  });

  it('rejects malformed fault specs', () => {
    expect(() => fake.injectFault({ path: 'no-slash' })).toThrow(TypeError);
    expect(() => fake.injectFault({ path: '/v1/x', times: 0 })).toThrow(TypeError);
    expect(() => fake.injectFault({ path: '/v1/x', status: 200 })).toThrow(TypeError);
  });
});

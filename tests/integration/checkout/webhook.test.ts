import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setOrchestrationClientForTests } from '../../../functions/checkout/durable-client.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { CheckoutSaga } from '../../../shared/services/checkout/checkout-saga.js';
import type { CheckoutInput } from '../../../shared/services/checkout/checkout-types.js';
import {
  signStripePayload,
  startFakeStripe,
  type FakeStripe,
  type StripeEvent,
} from '../../../infra/fake-stripe/server.js';
import { countQueries } from '../../../shared/db/query-counter.js';
import { closeFakeStripeAndApp, pointAppAtFakeStripe } from '../../support/fake-stripe.js';
import { testPool, type CreatedProduct } from '../../fixtures/sample_data.js';
import type { TestUser } from '../../fixtures/users.js';
import { deliverStripePayload, stripeEventsFor } from '../orders/paid-orders.js';
import {
  insertOrder,
  openShop,
  paymentRow,
  stubClient,
  type StubClient,
  expectInvariants,
} from './helpers.js';

let fake: FakeStripe;
let tenantId: string;
let user: TestUser;
let product: CreatedProduct;
let client: StubClient;
const secret = (): string => process.env.STRIPE_WEBHOOK_SECRET!;
const steps = new CheckoutSaga(silentLogger);

beforeAll(async () => {
  // Webhooks are captured from the fake's event log and delivered by the test, so it controls order.
  fake = await startFakeStripe({ webhookSecret: secret() });
  pointAppAtFakeStripe(fake);
  ({ tenantId, customer: user, product } = await openShop('Webhook shop', { stock: 100 }));
});

beforeEach(() => {
  client = stubClient();
  setOrchestrationClientForTests(() => client);
});

afterEach(() => setOrchestrationClientForTests(undefined));

afterAll(() => closeFakeStripeAndApp(fake));

/** An order waiting for 3-D Secure, as the orchestration leaves it. */
async function awaitingAuthentication(): Promise<{ input: CheckoutInput; pi: string }> {
  const orderId = await insertOrder(
    tenantId,
    user.id,
    [{ productId: product.id, quantity: 1 }],
    'pm_card_authenticationRequired',
  );
  const input = { orderId, tenantId, paymentTimeoutSeconds: 900 };
  await steps.reserve(input);
  const created = await steps.createIntent(input);
  if (created.outcome !== 'created') throw new Error('no intent');
  expect(await steps.confirm({ ...input, paymentIntentId: created.paymentIntentId })).toEqual({
    outcome: 'requires_action',
  });
  return { input, pi: created.paymentIntentId };
}

const eventsFor = (pi: string, type: string): StripeEvent[] => stripeEventsFor(fake, pi, type);

const deliver = (event: StripeEvent | string, signature?: string | null) =>
  deliverStripePayload(typeof event === 'string' ? event : JSON.stringify(event, null, 2), signature);

/** An order whose payment the confirm answer already recorded as succeeded (no webhook delivered yet). */
async function paidBeforeAnyWebhook(): Promise<{ orderId: string; pi: string }> {
  const orderId = await insertOrder(tenantId, user.id, [{ productId: product.id, quantity: 1 }]);
  const input = { orderId, tenantId, paymentTimeoutSeconds: 900 };
  await steps.reserve(input);
  const created = await steps.createIntent(input);
  if (created.outcome !== 'created') throw new Error('no intent');
  await steps.confirm({ ...input, paymentIntentId: created.paymentIntentId });
  return { orderId, pi: created.paymentIntentId };
}

async function count(sql: string, params: unknown[]): Promise<number> {
  const { rows } = await testPool().query<{ n: number }>(sql, params);
  return rows[0]!.n;
}

const auditCount = (orderId: string) =>
  count(`select count(*)::int as n from audit_outbox where payload->>'orderId' = $1::text`, [orderId]);

describe('POST /webhooks/stripe', () => {
  it('reordered and duplicated events end in the same state; the orchestration hears the outcome once', async () => {
    const { input, pi } = await awaitingAuthentication();
    await fake.completeAuthentication(pi, 'succeed');
    const requiresAction = eventsFor(pi, 'payment_intent.requires_action')[0]!;
    const succeeded = eventsFor(pi, 'payment_intent.succeeded')[0]!;

    // Success first, the stale requires_action after it, then both again.
    for (const event of [succeeded, requiresAction, succeeded, requiresAction]) {
      const res = await deliver(event);
      expect(res.status).toBe(200);
    }
    const payment = await paymentRow(input.orderId);
    expect(payment).toMatchObject({ status: 'succeeded', client_secret: null });
    expect(client.raised).toEqual([
      { instanceId: input.orderId, eventName: 'PaymentUpdated', eventData: { status: 'succeeded' } },
    ]);
    expect(
      await count('select count(*)::int as n from stripe_events where id in ($1, $2)', [
        succeeded.id,
        requiresAction.id,
      ]),
    ).toBe(2);

    const audits = await auditCount(input.orderId);
    const repeat = await deliver(succeeded);
    expect(repeat.status).toBe(200);
    expect(repeat.json).toEqual({ received: true, duplicate: true });
    expect(await auditCount(input.orderId)).toBe(audits);
  });

  it('payment_intent.succeeded after the confirm answer was recorded writes only its event id', async () => {
    const { orderId, pi } = await paidBeforeAnyWebhook();
    expect(await paymentRow(orderId)).toMatchObject({ status: 'succeeded' });
    const succeeded = eventsFor(pi, 'payment_intent.succeeded')[0]!;
    const audits = await auditCount(orderId);

    // The row the webhook finds by intent id already says succeeded for the order's amount: the ledger
    // needs neither its conditional update nor a second read (the find, the event id, the unit's
    // begin and commit).
    const { result: res, queries } = await countQueries(() => deliver(succeeded));
    expect(res.status).toBe(200);
    expect(queries).toBe(4);
    expect(await auditCount(orderId)).toBe(audits);
    expect(client.raised).toEqual([]);
  });

  it('an event type the app does not act on is acknowledged without a statement', async () => {
    const { pi } = await awaitingAuthentication();
    const created = eventsFor(pi, 'payment_intent.created')[0]!;
    expect(created).toBeDefined();
    const { result: res, queries } = await countQueries(() => deliver(created));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ received: true });
    expect(queries).toBe(0);
    expect(await count('select count(*)::int as n from stripe_events where id = $1', [created.id])).toBe(0);
    // Still signed: a forged one is refused like any other.
    expect((await deliver(created, 't=1,v1=00')).status).toBe(400);
  });

  it('forged, missing and stale signatures are 400 and change nothing', async () => {
    const { input, pi } = await awaitingAuthentication();
    await fake.completeAuthentication(pi, 'succeed');
    const succeeded = eventsFor(pi, 'payment_intent.succeeded')[0]!;
    const payload = JSON.stringify(succeeded);
    const audits = await auditCount(input.orderId);

    const forged = await deliver(payload, signStripePayload(payload, 'whsec_attacker'));
    expect(forged.status).toBe(400);
    expect(forged.headers.get('content-type')).toBe('application/problem+json');
    expect((await deliver(payload, null)).status).toBe(400);
    const stale = await deliver(
      payload,
      signStripePayload(payload, secret(), Math.floor(Date.now() / 1000) - 600),
    );
    expect(stale.status).toBe(400);
    // A body altered after signing.
    const tampered = await deliver(
      payload.replace('"succeeded"', '"canceled"'),
      signStripePayload(payload, secret()),
    );
    expect(tampered.status).toBe(400);

    expect(await count('select count(*)::int as n from stripe_events where id = $1', [succeeded.id])).toBe(0);
    expect((await paymentRow(input.orderId))?.status).toBe('requires_action');
    expect(await auditCount(input.orderId)).toBe(audits);
    expect(client.raised).toEqual([]);
  });

  it('a failed authentication moves the payment to failed and tells the orchestration', async () => {
    const { input, pi } = await awaitingAuthentication();
    await fake.completeAuthentication(pi, 'fail');
    const failed = eventsFor(pi, 'payment_intent.payment_failed')[0]!;
    expect((await deliver(failed)).status).toBe(200);
    expect(await paymentRow(input.orderId)).toMatchObject({ status: 'failed', client_secret: null });
    expect(client.raised).toEqual([
      { instanceId: input.orderId, eventName: 'PaymentUpdated', eventData: { status: 'failed' } },
    ]);
  });

  it('when the orchestration cannot be reached the answer is still 200 and the state is recorded', async () => {
    const { input, pi } = await awaitingAuthentication();
    await fake.completeAuthentication(pi, 'succeed');
    client.failRaise = true;
    const res = await deliver(eventsFor(pi, 'payment_intent.succeeded')[0]!);
    expect(res.status).toBe(200);
    expect((await paymentRow(input.orderId))?.status).toBe('succeeded');
  });

  it('charge.refunded marks a succeeded payment refunded; events for unknown intents are acknowledged and ignored', async () => {
    const { orderId, pi } = await paidBeforeAnyWebhook();
    const stripe = (await import('stripe')).default;
    const sdk = new stripe('sk_test_x', { host: '127.0.0.1', port: fake.port, protocol: 'http' });
    await sdk.refunds.create({ payment_intent: pi });
    const refunded = eventsFor(pi, 'charge.refunded')[0]!;
    expect((await deliver(refunded)).status).toBe(200);
    expect((await paymentRow(orderId))?.status).toBe('refunded');
    expect(client.raised).toEqual([]);

    const foreign = await sdk.paymentIntents.create({ amount: 500, currency: 'usd' });
    const createdEvent = fake
      .events()
      .find(
        (e) => e.type === 'payment_intent.created' && (e.data.object as { id: string }).id === foreign.id,
      )!;
    const res = await deliver({ ...createdEvent, type: 'payment_intent.succeeded' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ received: true });
  });
});

describe("the shared invariants (tests/support/invariants.ts) over this file's tenant", () => {
  it('hold at the end: stock, payments, money at the fake, audit replay', async () => {
    await expectInvariants([tenantId], { fake });
  });
});

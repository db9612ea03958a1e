import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { useOwnDatabase, type OwnDatabase } from './support/own-database.js';
import { startE2eHost, type E2eHost } from './support/host.js';
import {
  closeTestPool,
  createProduct,
  createTenant,
  testPool,
  type CreatedProduct,
} from '../fixtures/sample_data.js';
import { SAMPLE_ADDRESS } from '../fixtures/address.js';
import { authHeaders, createUser } from '../fixtures/users.js';
import { checkInvariants } from '../support/invariants.js';

/**
 * Issue #17's money scenarios, black-box: the compiled functions in the local host, the fake Stripe over
 * HTTP with signed webhooks, PostgreSQL. After each: captured − refunded at Stripe equals the order total
 * if the order is confirmed, else 0.
 */

const PAYMENT_TIMEOUT_SECONDS = 4;
let db: OwnDatabase;
let host: E2eHost;
let fake: FakeStripe;
let tenantId: string;
let product: CreatedProduct;

beforeAll(async () => {
  db = await useOwnDatabase('money');
  fake = await startFakeStripe({ webhookSecret: process.env.STRIPE_WEBHOOK_SECRET! });
  host = await startE2eHost({
    env: { STRIPE_API_BASE: fake.url, CHECKOUT_PAYMENT_TIMEOUT_SECONDS: String(PAYMENT_TIMEOUT_SECONDS) },
  });
  fake.setWebhookUrl(`${host.baseUrl}/webhooks/stripe`);
  tenantId = (await createTenant('E2E money shop')).id;
  product = await createProduct(tenantId, { stock: 50, priceCents: 8400 });
}, 120_000);

afterAll(async () => {
  await host?.stop();
  await fake?.close();
  await closeTestPool();
  await db?.drop();
}, 60_000);

interface Order {
  status: string;
  failureReason?: string;
  payment?: { status: string; paymentIntentId?: string };
}

async function checkout(paymentMethodId: string): Promise<{ orderId: string; get: () => Promise<Order> }> {
  const user = await createUser(tenantId);
  const cartId = randomUUID();
  await testPool().query('insert into carts (id, tenant_id, user_id, version) values ($1, $2, $3, 1)', [
    cartId,
    tenantId,
    user.id,
  ]);
  await testPool().query(
    'insert into cart_lines (id, tenant_id, cart_id, product_id, quantity) values ($1, $2, $3, $4, 1)',
    [randomUUID(), tenantId, cartId, product.id],
  );
  const headers = { ...(await authHeaders(user)), 'content-type': 'application/json' };
  const res = await fetch(`${host.baseUrl}/checkout`, {
    method: 'POST',
    headers: { ...headers, 'idempotency-key': randomUUID() },
    body: JSON.stringify({ paymentMethodId, shippingAddress: SAMPLE_ADDRESS }),
  });
  expect(res.status).toBe(202);
  const { orderId } = (await res.json()) as { orderId: string };
  const get = async (): Promise<Order> =>
    (await (await fetch(`${host.baseUrl}/orders/${orderId}`, { headers })).json()) as Order;
  return { orderId, get };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\n${host.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const intentOf = (orderId: string) => fake.paymentIntents().find((pi) => pi.metadata.orderId === orderId)!;

async function expectMoneyInvariant(orderId: string): Promise<void> {
  const { rows } = await testPool().query<{ status: string; total_cents: string }>(
    'select status, total_cents from orders where id = $1',
    [orderId],
  );
  const pi = intentOf(orderId);
  const refunded = fake
    .events()
    .filter(
      (e) =>
        e.type === 'refund.created' &&
        (e.data.object as { payment_intent?: string }).payment_intent === pi.id,
    )
    .reduce((sum, e) => sum + (e.data.object as { amount: number }).amount, 0);
  expect(pi.amount_received - refunded).toBe(
    rows[0]!.status === 'confirmed' ? Number(rows[0]!.total_cents) : 0,
  );
}

describe('money through the local host', () => {
  it('a forged PaymentUpdated raised on the durable runtime API confirms nothing', async () => {
    const { orderId, get } = await checkout('pm_card_authenticationRequired');
    await waitFor('requires_action', async () =>
      (await get()).status === 'requires_action' ? true : undefined,
    );
    // No key: whether the runtime API accepts the event or refuses the caller, nothing may be confirmed.
    for (const status of ['succeeded', 'failed']) {
      const raised = await fetch(
        `${host.url}/runtime/webhooks/durabletask/instances/${orderId}/raiseEvent/PaymentUpdated`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status }) },
      );
      expect([202, 401, 403, 404]).toContain(raised.status);
    }
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await get()).toMatchObject({ status: 'requires_action', payment: { status: 'requires_action' } });
    const ended = await waitFor('expiry', async () => {
      const order = await get();
      return order.status === 'expired' ? order : undefined;
    });
    expect(ended.failureReason).toBe('payment_timeout');
    expect(intentOf(orderId).status).toBe('canceled');
    await expectMoneyInvariant(orderId);
  });

  it('the compensation gets past a saved 500 on cancel; 3-D Secure finished afterwards charges nothing (84.00)', async () => {
    const { orderId, get } = await checkout('pm_card_authenticationRequired');
    await waitFor('requires_action', async () =>
      (await get()).status === 'requires_action' ? true : undefined,
    );
    fake.injectFault({
      method: 'POST',
      path: '/v1/payment_intents/*/cancel',
      status: 500,
      when: 'saved-before',
    });
    await waitFor('expiry', async () => ((await get()).status === 'expired' ? true : undefined));
    const pi = intentOf(orderId);
    expect(pi.status).toBe('canceled');
    await expect(fake.completeAuthentication(pi.id, 'succeed')).rejects.toThrow();
    await expectMoneyInvariant(orderId);
  });

  it('processing keeps the order open past the payment window; the settled payment confirms it', async () => {
    const { orderId, get } = await checkout('pm_fake_processing');
    await waitFor('the intent', async () => (intentOf(orderId)?.status === 'processing' ? true : undefined));
    await new Promise((r) => setTimeout(r, (PAYMENT_TIMEOUT_SECONDS + 2) * 1000));
    expect((await get()).status).toBe('awaiting_payment');
    await fake.settleProcessing(intentOf(orderId).id, 'succeed');
    await waitFor('confirmation', async () => ((await get()).status === 'confirmed' ? true : undefined));
    await expectMoneyInvariant(orderId);
  });

  it('afterwards: stock conserved, no money without a confirmed order, audit complete', async () => {
    await fake.webhooksIdle(10_000);
    let last = '';
    const report = await waitFor(
      'the invariants',
      async () => {
        const checked = await checkInvariants({
          appUrl: db.url,
          auditUrl: db.auditUrl,
          initialStock: new Map([[product.id, 50]]),
          tenantIds: [tenantId],
          paymentIntents: () => fake.paymentIntents(),
          settled: true,
        });
        last = checked.summary();
        return checked.ok ? checked : undefined;
      },
      30_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${last}`);
    });
    expect(report.summary()).not.toContain('FAIL');
  });
});

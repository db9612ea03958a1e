import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type Stripe from 'stripe';
import { isHandledEvent } from '../../shared/services/payments/stripe-webhook.js';
import { signStripePayload, startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { useOwnDatabase, type OwnDatabase } from './support/own-database.js';
import { startE2eHost, type E2eHost } from './support/host.js';
import { apiClient } from './support/client.js';
import type { components } from '../generated/api.js';
import {
  closeTestPool,
  createProduct,
  createTenant,
  openingStockOf,
  testPool,
  type CreatedProduct,
} from '../fixtures/sample_data.js';
import { checkSettled, type InvariantReport } from '../support/invariants.js';
import { authHeaders, createUser, type TestUser } from '../fixtures/users.js';
import { SAMPLE_ADDRESS } from '../fixtures/address.js';

/**
 * Checkout end to end: the compiled functions in the local host (real durable-functions orchestration,
 * activities, timers, the webhook trigger), the fake Stripe server over HTTP with signed webhooks, and
 * PostgreSQL. The suite has a database pair of its own: the host's timers (sweeper, audit relay) must
 * not act on rows other test files are asserting about.
 */

const PAYMENT_TIMEOUT_SECONDS = 4;
let db: OwnDatabase;
let host: E2eHost;
let fake: FakeStripe;
let tenantId: string;
let audit: pg.Pool;

beforeAll(async () => {
  db = await useOwnDatabase('checkout');
  audit = new pg.Pool({ connectionString: db.auditUrl, max: 2 });

  fake = await startFakeStripe({ webhookSecret: process.env.STRIPE_WEBHOOK_SECRET! });
  host = await startE2eHost({
    env: {
      STRIPE_API_BASE: fake.url,
      CHECKOUT_PAYMENT_TIMEOUT_SECONDS: String(PAYMENT_TIMEOUT_SECONDS),
      DATABASE_POOL_MAX: '20',
    },
  });
  fake.setWebhookUrl(`${host.baseUrl}/webhooks/stripe`);
  tenantId = (await createTenant('E2E checkout shop')).id;
}, 120_000);

afterAll(async () => {
  await host?.stop();
  await fake?.close();
  await audit?.end();
  await closeTestPool();
  await db?.drop();
}, 60_000);

interface Shopper {
  user: TestUser;
  headers: Record<string, string>;
}

async function shopperWithCart(lines: { productId: string; quantity: number }[]): Promise<Shopper> {
  const user = await createUser(tenantId);
  const cartId = randomUUID();
  await testPool().query('insert into carts (id, tenant_id, user_id, version) values ($1, $2, $3, 1)', [
    cartId,
    tenantId,
    user.id,
  ]);
  for (const line of lines) {
    await testPool().query(
      'insert into cart_lines (id, tenant_id, cart_id, product_id, quantity) values ($1, $2, $3, $4, $5)',
      [randomUUID(), tenantId, cartId, line.productId, line.quantity],
    );
  }
  return { user, headers: { ...(await authHeaders(user)), 'content-type': 'application/json' } };
}

interface CheckoutAnswer {
  status: number;
  headers: Headers;
  json(): Promise<unknown>;
}

/** Through the client typed from the published OpenAPI document (tests/generated/api.d.ts). */
async function postCheckout(
  shopper: Shopper,
  paymentMethodId: string,
  key = randomUUID(),
): Promise<CheckoutAnswer> {
  const { data, error, response } = await apiClient(host.baseUrl, shopper.headers).POST('/checkout', {
    params: { header: { 'idempotency-key': key } },
    body: { paymentMethodId, shippingAddress: SAMPLE_ADDRESS },
  });
  return { status: response.status, headers: response.headers, json: async () => data ?? error };
}

type OrderBody = components['schemas']['Order'];

async function getOrder(shopper: Shopper, orderId: string): Promise<OrderBody> {
  const { data, response } = await apiClient(host.baseUrl, shopper.headers).GET('/orders/{id}', {
    params: { path: { id: orderId } },
  });
  expect(response.status).toBe(200);
  return data!;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\n${host.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const FINAL = new Set(['confirmed', 'failed', 'expired', 'cancelled']);

async function settled(shopper: Shopper, orderId: string, timeoutMs?: number): Promise<OrderBody> {
  return waitFor(
    `order ${orderId} to settle`,
    async () => {
      const order = await getOrder(shopper, orderId);
      return FINAL.has(order.status) ? order : undefined;
    },
    timeoutMs,
  );
}

async function stockOf(productId: string): Promise<{ available: number; reserved: number; sold: number }> {
  const { rows } = await testPool().query(
    'select available, reserved, sold from inventory where product_id = $1',
    [productId],
  );
  return rows[0];
}

function intentsOf(orderId: string) {
  return fake.paymentIntents().filter((pi) => pi.metadata.orderId === orderId);
}

describe('checkout through the local host', () => {
  let product: CreatedProduct;

  beforeAll(async () => {
    product = await createProduct(tenantId, { name: 'Kettle', priceCents: 8900, stock: 1000 });
  });

  it('pays and confirms: stock sold, cart cleared, one PaymentIntent', async () => {
    const before = await stockOf(product.id);
    const shopper = await shopperWithCart([{ productId: product.id, quantity: 2 }]);
    const res = await postCheckout(shopper, 'pm_card_visa');
    expect(res.status).toBe(202);
    const { orderId, status } = (await res.json()) as { orderId: string; status: string };
    expect(status).toBe('pending');
    expect(res.headers.get('location')).toBe(`/api/orders/${orderId}`);

    const order = await settled(shopper, orderId);
    expect(order.status).toBe('confirmed');
    expect(order.payment.status).toBe('succeeded');
    expect(await stockOf(product.id)).toEqual({
      available: before.available - 2,
      reserved: before.reserved,
      sold: before.sold + 2,
    });
    const { rows } = await testPool().query(
      'select count(*)::int as n from cart_lines l join carts c on c.id = l.cart_id where c.user_id = $1',
      [shopper.user.id],
    );
    expect(rows[0].n).toBe(0);
    expect(intentsOf(orderId)).toHaveLength(1);
    expect(intentsOf(orderId)[0]).toMatchObject({ amount: 17800, currency: 'usd', status: 'succeeded' });
  });

  it('a declined card fails the order, restores the stock and keeps the cart', async () => {
    const before = await stockOf(product.id);
    const shopper = await shopperWithCart([{ productId: product.id, quantity: 3 }]);
    const res = await postCheckout(shopper, 'pm_card_chargeDeclined');
    const { orderId } = (await res.json()) as { orderId: string };
    const order = await settled(shopper, orderId);
    expect(order).toMatchObject({ status: 'failed', failureReason: 'payment_declined' });
    expect(order.payment.status).toBe('failed');
    expect(await stockOf(product.id)).toEqual(before);
    expect(intentsOf(orderId).map((pi) => pi.status)).toEqual(['canceled']);
    const { rows } = await testPool().query(
      'select count(*)::int as n from cart_lines l join carts c on c.id = l.cart_id where c.user_id = $1',
      [shopper.user.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it('3-D Secure: requires_action shows the clientSecret; completing it sends the webhook; the order confirms', async () => {
    const shopper = await shopperWithCart([{ productId: product.id, quantity: 1 }]);
    const { orderId } = (await (await postCheckout(shopper, 'pm_card_authenticationRequired')).json()) as {
      orderId: string;
    };
    const waiting = await waitFor('requires_action', async () => {
      const order = await getOrder(shopper, orderId);
      return order.status === 'requires_action' ? order : undefined;
    });
    const [intent] = intentsOf(orderId);
    expect(waiting.clientSecret).toBe(intent!.client_secret);
    expect(waiting.payment).toEqual({
      status: 'requires_action',
      paymentIntentId: intent!.id,
      refundedCents: 0,
      disputed: false,
    });

    await fake.completeAuthentication(intent!.id, 'succeed');
    const order = await settled(shopper, orderId);
    expect(order.status).toBe('confirmed');
    expect(order.clientSecret).toBeUndefined();
    const { rows } = await testPool().query(
      `select type from stripe_events where payment_intent_id = $1 order by created_at`,
      [intent!.id],
    );
    expect(rows.map((r: { type: string }) => r.type)).toContain('payment_intent.succeeded');
  });

  it('3-D Secure never completed: the durable timer expires the order and the stock comes back', async () => {
    const before = await stockOf(product.id);
    const shopper = await shopperWithCart([{ productId: product.id, quantity: 4 }]);
    const { orderId } = (await (await postCheckout(shopper, 'pm_card_authenticationRequired')).json()) as {
      orderId: string;
    };
    const order = await settled(shopper, orderId, (PAYMENT_TIMEOUT_SECONDS + 20) * 1000);
    expect(order).toMatchObject({ status: 'expired', failureReason: 'payment_timeout' });
    expect(await stockOf(product.id)).toEqual(before);
    expect(intentsOf(orderId).map((pi) => pi.status)).toEqual(['canceled']);
  });

  it('Stripe saves the 500 of the first create: the retry gets it replayed, a fresh key creates one intent, the order confirms', async () => {
    const shopper = await shopperWithCart([{ productId: product.id, quantity: 1 }]);
    // The default fault strikes inside the endpoint, so Stripe saves it under the key (docs.stripe.com/idempotency).
    fake.injectFault({ method: 'POST', path: '/v1/payment_intents', kind: 'error', status: 500, times: 2 });
    const { orderId } = (await (await postCheckout(shopper, 'pm_card_visa')).json()) as { orderId: string };
    const order = await settled(shopper, orderId);
    expect(order.status).toBe('confirmed');
    expect(intentsOf(orderId)).toHaveLength(1);
    const creates = fake
      .requests()
      .filter(
        (r) =>
          r.method === 'POST' &&
          r.path === '/v1/payment_intents' &&
          (r.idempotencyKey ?? '').startsWith(`${orderId}:create`),
      )
      .map((r) => ({
        fresh: r.idempotencyKey !== `${orderId}:create`,
        status: r.status,
        replayed: r.replayed,
      }));
    // Two saved 500s: the fixed key's, then the first fresh key's (a replay does not use a fault up, as
    // Stripe runs nothing for it); the activity's retry replays the fixed key's again and the next
    // fresh key creates the intent.
    expect(creates).toEqual([
      { fresh: false, status: 500, replayed: false },
      { fresh: false, status: 500, replayed: true },
      { fresh: true, status: 500, replayed: false },
      { fresh: false, status: 500, replayed: true },
      { fresh: true, status: 200, replayed: false },
    ]);
  });

  it('a 500 in front of Stripe (nothing saved) on the first creates: the activity is retried under the same key', async () => {
    const shopper = await shopperWithCart([{ productId: product.id, quantity: 1 }]);
    fake.injectFault({
      method: 'POST',
      path: '/v1/payment_intents',
      kind: 'error',
      status: 500,
      times: 2,
      when: 'before',
    });
    const { orderId } = (await (await postCheckout(shopper, 'pm_card_visa')).json()) as { orderId: string };
    const order = await settled(shopper, orderId);
    expect(order.status).toBe('confirmed');
    expect(intentsOf(orderId)).toHaveLength(1);
    const creates = fake
      .requests()
      .filter(
        (r) =>
          r.method === 'POST' && r.path === '/v1/payment_intents' && r.idempotencyKey === `${orderId}:create`,
      );
    expect(creates.length).toBe(3);
  });

  it('duplicated and reordered webhooks, copies racing each other, leave the same final state', async () => {
    const shopper = await shopperWithCart([{ productId: product.id, quantity: 1 }]);
    // Stripe neither orders nor serializes deliveries (docs.stripe.com/webhooks): the three copies of
    // an event and the other events of the batch are in flight at once.
    fake.setWebhookOptions({ duplicate: 3, order: 'reverse', batchWindowMs: 200, concurrency: 8 });
    try {
      const { orderId } = (await (await postCheckout(shopper, 'pm_card_authenticationRequired')).json()) as {
        orderId: string;
      };
      await waitFor('requires_action', async () =>
        (await getOrder(shopper, orderId)).status === 'requires_action' ? true : undefined,
      );
      const [intent] = intentsOf(orderId);
      await fake.completeAuthentication(intent!.id, 'succeed');
      const order = await settled(shopper, orderId);
      expect(order.status).toBe('confirmed');
      await fake.webhooksIdle(10_000);
      // Every event arrived three times; each id is recorded once and the state did not move back.
      const events = intentEvents(intent!.id);
      const deliveries = fake.deliveries().filter((d) => events.includes(d.eventId));
      const delivered = [...new Set(deliveries.map((d) => d.eventId))].sort();
      expect(delivered.length).toBeGreaterThanOrEqual(2);
      // Every copy of every event was acknowledged (a repeat is a 2xx, not an error Stripe retries)…
      for (const id of delivered)
        expect(
          deliveries
            .filter((d) => d.eventId === id && d.ok)
            .map((d) => d.copy)
            .sort(),
          `copies of ${id} acknowledged`,
        ).toEqual([1, 2, 3]);
      expect(deliveries.filter((d) => !d.ok)).toEqual([]);
      // …each event id the app acts on is recorded exactly once, none lost (types it does not act on,
      // such as payment_intent.created, are acknowledged and not written at all)…
      const acted = fake
        .events()
        .filter((e) => delivered.includes(e.id) && isHandledEvent(e as unknown as Stripe.Event))
        .map((e) => e.id)
        .sort();
      expect(acted.length).toBeGreaterThanOrEqual(2);
      const { rows } = await testPool().query<{ id: string }>(
        'select id from stripe_events where id = any($1::text[]) order by id',
        [delivered],
      );
      expect(rows.map((r) => r.id).sort()).toEqual(acted);
      // …and the payment moved through each status once, forward only, whatever the order of arrival.
      const { rows: trail } = await testPool().query<{ action: string }>(
        `select o.action from audit_outbox o join payments p on p.id = o.entity_id
          where o.entity = 'payment' and p.order_id = $1 and o.action like 'status:%' order by o.created_at, o.id`,
        [orderId],
      );
      const statuses = trail.map((r) => r.action);
      expect(statuses.length).toBe(new Set(statuses).size);
      expect(statuses).toContain('status:succeeded');
      expect((await getOrder(shopper, orderId)).payment.status).toBe('succeeded');
    } finally {
      fake.setWebhookOptions({ duplicate: 1, order: 'in-order', concurrency: 1 });
    }
  });

  it('a forged webhook signature is a 400 and changes nothing', async () => {
    const payload = JSON.stringify({
      id: `evt_${randomUUID()}`,
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { id: 'pi_forged', object: 'payment_intent', metadata: {} } },
    });
    const res = await fetch(`${host.baseUrl}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripePayload(payload, 'whsec_forged'),
      },
      body: payload,
    });
    expect(res.status).toBe(400);
    const { rows } = await testPool().query(
      `select count(*)::int as n from stripe_events where payment_intent_id = 'pi_forged'`,
    );
    expect(rows[0].n).toBe(0);
  });

  it('the sweeper releases an abandoned reservation and expires its order', async () => {
    const before = await stockOf(product.id);
    const shopper = await shopperWithCart([{ productId: product.id, quantity: 5 }]);
    // An order whose orchestration died after reserving: a reservation already past its expiry.
    const orderId = randomUUID();
    await testPool().query(
      `insert into orders (id, tenant_id, user_id, status, total_cents, currency, idempotency_key, request_hash, payment_method_id)
       values ($1, $2, $3, 'reserved', 44500, 'USD', $4, 'h', 'pm_card_visa')`,
      [orderId, tenantId, shopper.user.id, randomUUID()],
    );
    await testPool().query(
      `insert into order_lines (id, tenant_id, order_id, product_id, name, quantity, unit_price_cents, line_total_cents)
       values ($1, $2, $3, $4, 'Abandoned', 5, 8900, 44500)`,
      [randomUUID(), tenantId, orderId, product.id],
    );
    // The audit rows checkout writes with those two steps, so the invariant replay sees a real history.
    await testPool().query(
      `insert into audit_outbox (id, tenant_id, entity, entity_id, action, payload)
       values (gen_random_uuid(), $1, 'order', $2, 'created', '{"status":"pending"}'),
              (gen_random_uuid(), $1, 'order', $2, 'status:reserved', '{"status":"reserved"}')`,
      [tenantId, orderId],
    );
    await testPool().query(
      `with r as (insert into reservations (tenant_id, order_id, product_id, quantity, status, expires_at)
         values ($1, $2, $3, 5, 'active', now() - interval '1 minute') returning product_id, quantity)
       update inventory i set available = available - r.quantity, reserved = reserved + r.quantity from r where i.product_id = r.product_id`,
      [tenantId, orderId, product.id],
    );
    expect((await stockOf(product.id)).available).toBe(before.available - 5);

    const trigger = await fetch(`${host.url}/admin/functions/reservationSweeper`, {
      method: 'POST',
      body: '{}',
      headers: { 'x-functions-key': host.masterKey },
    });
    expect(trigger.status).toBe(202);
    const order = await settled(shopper, orderId);
    expect(order).toMatchObject({ status: 'expired', failureReason: 'reservation_expired' });
    await waitFor('stock back', async () =>
      (await stockOf(product.id)).available === before.available ? true : undefined,
    );
    expect(await stockOf(product.id)).toEqual(before);
  });
});

describe('under contention', () => {
  it('200 concurrent checkouts for stock 50: exactly 50 confirmed, 150 failed for insufficient inventory, never oversold', async () => {
    const scarce = await createProduct(tenantId, { name: 'Limited print', priceCents: 2500, stock: 50 });
    const shoppers = await Promise.all(
      Array.from({ length: 200 }, () => shopperWithCart([{ productId: scarce.id, quantity: 1 }])),
    );

    let observing = true;
    const observations: { available: number; reserved: number; sold: number }[] = [];
    const observer = (async () => {
      while (observing) {
        observations.push(await stockOf(scarce.id));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const responses = await Promise.all(shoppers.map((s) => postCheckout(s, 'pm_card_visa')));
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(202));
    const ids = await Promise.all(
      responses.map(async (r) => ((await r.json()) as { orderId: string }).orderId),
    );
    const orders = await Promise.all(ids.map((id, i) => settled(shoppers[i]!, id, 120_000)));
    observing = false;
    await observer;

    const confirmed = orders.filter((o) => o.status === 'confirmed');
    const failed = orders.filter((o) => o.status === 'failed');
    expect(confirmed).toHaveLength(50);
    expect(failed).toHaveLength(150);
    for (const o of failed) expect(o.failureReason).toBe('insufficient_inventory');
    expect(await stockOf(scarce.id)).toEqual({ available: 0, reserved: 0, sold: 50 });
    expect(observations.length).toBeGreaterThan(2);
    for (const o of observations) {
      expect(o.available).toBeGreaterThanOrEqual(0);
      expect(o.available + o.reserved + o.sold).toBe(50);
    }
    // Only the 50 that got stock ever reached Stripe.
    const charged = new Set(fake.paymentIntents().map((pi) => pi.metadata.orderId));
    expect(ids.filter((id) => charged.has(id))).toHaveLength(50);
  }, 180_000);

  it('20 concurrent POST /checkout with one Idempotency-Key: one order, one PaymentIntent', async () => {
    const product = await createProduct(tenantId, { stock: 10 });
    const shopper = await shopperWithCart([{ productId: product.id, quantity: 1 }]);
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => postCheckout(shopper, 'pm_card_visa', key)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(202));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ orderId: string }>));
    const ids = new Set(bodies.map((b) => b.orderId));
    expect(ids.size).toBe(1);
    const [orderId] = [...ids];
    expect((await settled(shopper, orderId!)).status).toBe('confirmed');
    const { rows } = await testPool().query('select count(*)::int as n from orders where user_id = $1', [
      shopper.user.id,
    ]);
    expect(rows[0].n).toBe(1);
    expect(intentsOf(orderId!)).toHaveLength(1);
    expect(await stockOf(product.id)).toEqual({ available: 9, reserved: 0, sold: 1 });
    // Every audited write of the order and its payment reached the audit database (the relay is nudged
    // after each commit): the audit log holds exactly the outbox rows, field for field.
    const { rows: outbox } = await testPool().query<{
      id: string;
      entity: string;
      entity_id: string;
      action: string;
    }>(
      `select o.id, o.entity, o.entity_id, o.action from audit_outbox o
        where o.entity_id = $1 or o.entity_id in (select id from payments where order_id = $1)
        order by o.id`,
      [orderId],
    );
    expect(outbox.filter((r) => r.entity === 'order').map((r) => r.action)).toContain('status:confirmed');
    expect(outbox.filter((r) => r.entity === 'payment').map((r) => r.action)).toContain('status:succeeded');
    const logged = await waitFor(
      'every audit row relayed',
      async () => {
        const { rows: a } = await audit.query<{
          id: string;
          entity: string;
          entity_id: string;
          action: string;
        }>(
          `select outbox_id::text as id, entity, entity_id::text, action from audit_log
          where outbox_id = any($1::uuid[]) order by outbox_id`,
          [outbox.map((r) => r.id)],
        );
        return a.length === outbox.length ? a : undefined;
      },
      20_000,
    );
    expect(logged).toEqual(outbox);
  });
});

function intentEvents(piId: string): string[] {
  return fake
    .events()
    .filter(
      (e) =>
        (e.data.object as { id?: string; payment_intent?: string }).id === piId ||
        (e.data.object as { payment_intent?: string }).payment_intent === piId,
    )
    .map((e) => e.id);
}

describe("the shared invariants (tests/support/invariants.ts) over this file's tenant", () => {
  it('hold once everything settled: stock, payments, money at the fake, the relayed audit trail', async () => {
    let last = '';
    const report = await waitFor<InvariantReport>('the invariants', async () => {
      const checked = await checkSettled({ appUrl: db.url, auditUrl: db.auditUrl }, fake, {
        initialStock: openingStockOf([tenantId]),
        tenantIds: [tenantId],
      });
      last = checked.summary();
      return checked.ok ? checked : undefined;
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${last}`);
    });
    expect(report.ok, report.summary()).toBe(true);
  }, 60_000);
});

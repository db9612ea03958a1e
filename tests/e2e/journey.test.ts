import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stableEventId } from '../../shared/services/orders/order-events.js';
import { SAMPLE_ADDRESS } from '../fixtures/address.js';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { startE2eHost, type E2eHost } from './support/host.js';
import { apiClient } from './support/client.js';
import { useOwnDatabase, type OwnDatabase } from './support/own-database.js';
import { closeTestPool, createTenant } from '../fixtures/sample_data.js';
import { authHeaders, createUser } from '../fixtures/users.js';
import { checkInvariants } from '../support/invariants.js';

/**
 * A shopper's whole journey through the compiled functions in the local host, driven by the client
 * typed from the published OpenAPI document: if the document and the handlers disagree, this breaks.
 */
describe('storefront journey through the typed client', () => {
  let db: OwnDatabase;
  let fake: FakeStripe;
  let host: E2eHost;
  let tenantId: string;
  /** Products created in the journey and the stock they were created with (the oracle's opening). */
  const initialStock = new Map<string, number>();
  let adminHeaders: Record<string, string>;
  let mailDir: string;

  /** The email the notifications function wrote for an event, decoded; waits for it to appear. */
  async function emailFor(eventId: string): Promise<{ headers: string; body: string }> {
    const file = path.join(mailDir, `${eventId}.eml`);
    for (let i = 0; i < 150 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    const [headers, body] = readFileSync(file, 'utf8').split('\r\n\r\n') as [string, string];
    return { headers, body: Buffer.from(body.replace(/\r\n/g, ''), 'base64').toString('utf8') };
  }

  beforeAll(async () => {
    mailDir = mkdtempSync(path.join(tmpdir(), 'journey-mail-'));
    db = await useOwnDatabase('journey');
    fake = await startFakeStripe({ webhookSecret: process.env.STRIPE_WEBHOOK_SECRET! });
    host = await startE2eHost({ env: { STRIPE_API_BASE: fake.url, LOCAL_MAIL_DIR: mailDir } });
    fake.setWebhookUrl(`${host.baseUrl}/webhooks/stripe`);
    tenantId = (await createTenant('Journey shop')).id;
    adminHeaders = await authHeaders(await createUser(tenantId, { roles: ['admin'] }));
  }, 120_000);

  afterAll(async () => {
    await host?.stop();
    await fake?.close();
    await closeTestPool();
    await db?.drop();
    rmSync(mailDir, { recursive: true, force: true });
  }, 60_000);

  it('register → login → browse → search → review → cart → checkout → order → export', async () => {
    const admin = apiClient(host.baseUrl, adminHeaders);
    const created = await admin.POST('/manage/products', {
      body: {
        sku: `JRN-${randomUUID().slice(0, 6)}`,
        name: 'Walnut pour-over stand',
        description: 'A solid walnut stand for pour-over coffee drippers.',
        priceCents: 4500,
        currency: 'USD',
        stock: 5,
      },
    });
    expect(created.response.status).toBe(201);
    const productId = created.data!.id;
    initialStock.set(productId, 5);

    const anonymous = apiClient(host.baseUrl, { 'x-tenant-id': tenantId });
    const email = `shopper-${randomUUID().slice(0, 8)}@example.test`;
    const password = 'correct horse battery staple';
    const registered = await anonymous.POST('/auth/register', {
      body: { email, password, name: 'Journey Shopper', phone: '+1 555 0100', address: '1 Main St' },
    });
    expect(registered.response.status).toBe(201);
    const login = await anonymous.POST('/auth/login', { body: { email, password } });
    expect(login.response.status).toBe(200);
    expect(login.data!.tokenType).toBe('Bearer');

    const me = apiClient(host.baseUrl, { authorization: `Bearer ${login.data!.accessToken}` });
    const profile = await me.GET('/me');
    expect(profile.data).toMatchObject({ email, name: 'Journey Shopper' });

    const list = await anonymous.GET('/products', { params: { query: { pageSize: 10, sort: 'newest' } } });
    expect(list.data!.items.map((p) => p.id)).toContain(productId);
    const found = await anonymous.GET('/products/search', { params: { query: { q: 'walnut' } } });
    expect(found.data!.items[0]?.id).toBe(productId);
    const detail = await anonymous.GET('/products/{id}', { params: { path: { id: productId } } });
    expect(detail.data).toMatchObject({ id: productId, available: 5, priceCents: 4500 });

    const review = await me.POST('/products/{id}/reviews', {
      params: { path: { id: productId } },
      body: { rating: 5, title: 'Sturdy', body: 'Holds my dripper perfectly.' },
    });
    expect(review.response.status).toBe(201);

    const cart = await me.PUT('/cart/items/{productId}', {
      params: { path: { productId } },
      body: { quantity: 2 },
    });
    expect(cart.data).toMatchObject({ totalCents: 9000, currency: 'USD' });

    const key = randomUUID();
    const checkout = await me.POST('/checkout', {
      params: { header: { 'idempotency-key': key } },
      body: { paymentMethodId: 'pm_card_visa', shippingAddress: SAMPLE_ADDRESS },
    });
    expect(checkout.response.status).toBe(202);
    const orderId = checkout.data!.orderId;

    let status = '';
    for (let i = 0; i < 100 && status !== 'confirmed' && status !== 'failed'; i++) {
      const order = await me.GET('/orders/{id}', { params: { path: { id: orderId } } });
      status = order.data!.status;
      if (status !== 'confirmed') await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('confirmed');
    const history = await me.GET('/orders', { params: { query: { pageSize: 5 } } });
    expect(history.data!.items[0]).toMatchObject({
      id: orderId,
      totalCents: 9000,
      shippingAddress: SAMPLE_ADDRESS,
    });

    // The confirmation leaves through the order-events outbox; the notifications function emails it.
    const confirmedMail = await emailFor(stableEventId(orderId, 'order.confirmed'));
    expect(confirmedMail.headers).toContain(`To: ${email}`);
    expect(confirmedMail.headers).toMatch(/^Subject: Order [0-9A-F]{8} confirmed$/m);
    expect(confirmedMail.body).toContain('90.00 USD');

    // The admin finds the order by the customer's email and ships it.
    const desk = await admin.GET('/manage/orders', { params: { query: { email: email.toUpperCase() } } });
    expect(desk.data!.items.map((o) => o.id)).toEqual([orderId]);
    const shipped = await admin.POST('/manage/orders/{id}/fulfilments', {
      params: { path: { id: orderId } },
      body: { carrier: 'DHL', trackingNumber: 'JD014600006281' },
    });
    expect(shipped.response.status).toBe(201);
    expect(shipped.data).toMatchObject({ orderId, status: 'shipped', carrier: 'DHL' });
    const shippedMail = await emailFor(stableEventId(orderId, 'order.shipped'));
    expect(shippedMail.body).toContain('JD014600006281');
    const managed = await admin.GET('/manage/orders/{id}', { params: { path: { id: orderId } } });
    expect(managed.data).toMatchObject({
      status: 'shipped',
      customer: { email },
      shippingAddress: SAMPLE_ADDRESS,
      fulfilment: { carrier: 'DHL', trackingNumber: 'JD014600006281' },
      refunds: [],
    });
    expect(managed.data!.timeline.map((e) => e.action)).toEqual(
      expect.arrayContaining(['created', 'status:confirmed', 'status:shipped']),
    );
    const stock = await admin.GET('/manage/products/{id}/inventory', { params: { path: { id: productId } } });
    expect(stock.data).toMatchObject({ onHand: 3, reserved: 0, available: 3, sold: 2 });
    expect(stock.data!.movements.map((m) => m.kind)).toEqual(['sale', 'reservation', 'restock']);
    const after = await anonymous.GET('/products/{id}', { params: { path: { id: productId } } });
    expect(after.data!.available).toBe(3);

    // A partial refund of the shipped order: refunded at the fake, the customer emailed, status kept.
    const refund = await admin.POST('/manage/orders/{id}/refunds', {
      params: { path: { id: orderId }, header: { 'idempotency-key': randomUUID() } },
      body: { amountCents: 1500, reason: 'late delivery' },
    });
    expect(refund.response.status).toBe(201);
    expect(refund.data).toMatchObject({ amountCents: 1500, reason: 'late delivery', status: 'succeeded' });
    const refundMail = await emailFor(refund.data!.id);
    expect(refundMail.headers).toMatch(/^Subject: Order [0-9A-F]{8} refunded$/m);
    const partlyRefunded = await me.GET('/orders/{id}', { params: { path: { id: orderId } } });
    expect(partlyRefunded.data).toMatchObject({ status: 'shipped', payment: { refundedCents: 1500 } });
    const firstIntent = partlyRefunded.data!.payment.paymentIntentId!;
    const netAtFake = async (pi: string): Promise<number> => {
      const intent = fake.paymentIntents().find((p) => p.id === pi)!;
      const refunds = (
        (await await fetch(`${fake.url}/v1/refunds?payment_intent=${pi}`, {
          headers: { authorization: 'Bearer sk_test_journey' },
        }).then((r) => r.json())) as { data: { amount: number }[] }
      ).data;
      return intent.amount_received - refunds.reduce((sum, r) => sum + r.amount, 0);
    };
    expect(await netAtFake(firstIntent)).toBe(9000 - 1500);

    // A second order, cancelled by the customer after payment: refunded in full, stock back.
    await me.PUT('/cart/items/{productId}', { params: { path: { productId } }, body: { quantity: 1 } });
    const second = await me.POST('/checkout', {
      params: { header: { 'idempotency-key': randomUUID() } },
      body: { paymentMethodId: 'pm_card_visa', shippingAddress: SAMPLE_ADDRESS },
    });
    const secondId = second.data!.orderId;
    let secondStatus = '';
    for (let i = 0; i < 100 && secondStatus !== 'confirmed'; i++) {
      secondStatus = (await me.GET('/orders/{id}', { params: { path: { id: secondId } } })).data!.status;
      if (secondStatus !== 'confirmed') await new Promise((r) => setTimeout(r, 100));
    }
    expect(secondStatus).toBe('confirmed');
    const cancelled = await me.POST('/orders/{id}/cancel', { params: { path: { id: secondId } } });
    expect(cancelled.response.status).toBe(200);
    expect(cancelled.data).toMatchObject({ status: 'cancelled', payment: { refundedCents: 4500 } });
    expect(await netAtFake(cancelled.data!.payment.paymentIntentId!)).toBe(0);
    const cancelMail = await emailFor(stableEventId(secondId, 'order.cancelled'));
    expect(cancelMail.headers).toMatch(/^Subject: Order [0-9A-F]{8} cancelled$/m);
    const restocked = await admin.GET('/manage/products/{id}/inventory', {
      params: { path: { id: productId } },
    });
    expect(restocked.data).toMatchObject({ available: 3, reserved: 0 });

    const exportRequest = await admin.POST('/manage/orders/exports', {
      body: { from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' },
    });
    expect(exportRequest.response.status).toBe(202);
  }, 60_000);

  it('leaves the shared invariants holding (tests/support/invariants.ts): stock, money at the fake, audit', async () => {
    // Settled once the relay and the webhooks have caught up with the journey's last step.
    let report = await check();
    for (let i = 0; i < 60 && !report.ok; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      report = await check();
    }
    expect(report.ok, report.summary()).toBe(true);
    expect(report.figures['orders.shipped']).toBe(1);
    expect(report.figures['orders.cancelled']).toBe(1);

    function check(): ReturnType<typeof checkInvariants> {
      return checkInvariants({
        appUrl: db.url,
        auditUrl: db.auditUrl,
        initialStock,
        tenantIds: [tenantId],
        paymentIntents: () => fake.paymentIntents(),
        stripeUrl: fake.url,
        settled: true,
      });
    }
  }, 60_000);
});

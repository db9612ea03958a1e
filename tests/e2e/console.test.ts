import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { startAzurite, type Azurite } from '../support/azurite.js';
import { SAMPLE_ADDRESS } from '../fixtures/address.js';
import { closeTestPool, createTenant } from '../fixtures/sample_data.js';
import { authHeaders, createUser, type TestUser } from '../fixtures/users.js';
import { launchChromium, loopbackOnly } from './support/browser.js';
import { apiClient } from './support/client.js';
import { startE2eHost, type E2eHost } from './support/host.js';
import { useOwnDatabase, type OwnDatabase } from './support/own-database.js';

const ROOT = path.resolve(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ADMIN_PASSWORD = 'console admin password 1';

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * axe-core injected through the DevTools protocol (the console's CSP rightly refuses inline scripts),
 * run on the whole document; serious and critical violations fail the screen.
 */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  // Runs in the page (no DOM types here): `axe` is the global the injected script defined.
  const violations = await page.evaluate(async () => {
    const page = globalThis as any;
    return (await page.axe.run(page.document, { resultTypes: ['violations'] })).violations as unknown[];
  });
  return (violations as AxeViolation[])
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

/** What has the focus: an element's role if it has one, else its tag and text. */
async function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const element = (globalThis as any).document.activeElement;
    return element?.getAttribute('role') ?? `${element?.tagName} ${element?.textContent ?? ''}`.trim();
  });
}

describe('the admin console in a real browser', () => {
  let db: OwnDatabase;
  let fake: FakeStripe;
  let azurite: Azurite;
  let host: E2eHost;
  let browser: Browser;
  let tenantId: string;
  let admin: TestUser;
  let customer: TestUser;
  let orderId: string;
  let otherOrderId: string;
  let other: TestUser;
  let productId: string;

  beforeAll(async () => {
    db = await useOwnDatabase('console');
    fake = await startFakeStripe({ webhookSecret: process.env.STRIPE_WEBHOOK_SECRET! });
    azurite = await startAzurite();
    host = await startE2eHost({
      env: { STRIPE_API_BASE: fake.url, AzureWebJobsStorage: azurite.connectionString },
    });
    fake.setWebhookUrl(`${host.baseUrl}/webhooks/stripe`);
    tenantId = (await createTenant('Console shop')).id;
    admin = await createUser(tenantId, {
      roles: ['admin'],
      email: `admin-${randomUUID().slice(0, 6)}@example.test`,
      password: ADMIN_PASSWORD,
      name: 'Desk Admin',
    });

    // A confirmed order of one customer, and another customer's order the email filter must leave out.
    const api = apiClient(host.baseUrl, await authHeaders(admin));
    const created = await api.POST('/manage/products', {
      body: {
        sku: `CON-${randomUUID().slice(0, 6)}`,
        name: 'Enamel camping mug',
        description: 'A blue enamel mug.',
        priceCents: 1850,
        currency: 'USD',
        stock: 20,
      },
    });
    expect(created.response.status).toBe(201);
    productId = created.data!.id;
    customer = await createUser(tenantId, {
      name: 'Grace Hopper',
      email: `grace-${randomUUID().slice(0, 6)}@example.test`,
    });
    other = await createUser(tenantId, {
      name: 'Other Shopper',
      email: `other-${randomUUID().slice(0, 6)}@example.test`,
    });
    orderId = await placeConfirmedOrder(customer, 2);
    otherOrderId = await placeConfirmedOrder(other, 1);
    browser = await launchChromium();
  }, 180_000);

  async function placeConfirmedOrder(user: TestUser, quantity: number): Promise<string> {
    const me = apiClient(host.baseUrl, await authHeaders(user));
    const cart = await me.PUT('/cart/items/{productId}', {
      params: { path: { productId } },
      body: { quantity },
    });
    expect(cart.response.status).toBe(200);
    const checkout = await me.POST('/checkout', {
      params: { header: { 'idempotency-key': randomUUID() } },
      body: { paymentMethodId: 'pm_card_visa', shippingAddress: SAMPLE_ADDRESS },
    });
    expect(checkout.response.status).toBe(202);
    const id = checkout.data!.orderId;
    for (let i = 0; i < 300; i++) {
      const order = await me.GET('/orders/{id}', { params: { path: { id } } });
      if (order.data!.status === 'confirmed') return id;
      if (['failed', 'expired', 'cancelled'].includes(order.data!.status))
        throw new Error(`order ${id} ended ${order.data!.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`order ${id} not confirmed:\n${host.output().slice(-3000)}`);
  }

  /** The amounts of the refunds the fake Stripe holds for an intent, as its API lists them. */
  async function refundsAtStripe(intent: string): Promise<number[]> {
    const answer = await fetch(`${fake.url}/v1/refunds?payment_intent=${intent}`, {
      headers: { authorization: `Bearer ${process.env.STRIPE_SECRET_KEY!}` },
    });
    expect(answer.status).toBe(200);
    return ((await answer.json()) as { data: { amount: number }[] }).data.map((r) => r.amount);
  }

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    await fake?.close();
    await azurite?.stop();
    await closeTestPool();
    await db?.drop();
  }, 60_000);

  it('sign in → find an order by email → partial refund (and a 409) → ship → export and open its CSV → cancel another → adjust stock → sign out', async () => {
    const context: BrowserContext = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
    });
    const page = await context.newPage();
    const offLoopback = await loopbackOnly(page);
    const cspErrors: string[] = [];
    page.on('console', (message) => {
      if (/Content.Security.Policy|Refused to/i.test(message.text())) cspErrors.push(message.text());
    });
    // Every token pair the API hands the page, to check afterwards that sign-out revoked the last one.
    const refreshTokens: string[] = [];
    page.on('response', async (response) => {
      if (/\/auth\/(login|refresh)$/.test(response.url()) && response.status() === 200)
        refreshTokens.push(((await response.json()) as { refreshToken: string }).refreshToken);
    });
    const axeReport: Record<string, string[]> = {};
    await page.clock.install();
    const nav = page.getByRole('navigation', { name: 'Sections' });

    // Sign in.
    await page.goto(`${host.baseUrl}/console`);
    await page.getByRole('heading', { name: 'Sign in to the admin console' }).waitFor();
    axeReport['sign-in'] = await seriousViolations(page);
    await page.getByLabel('Shop (tenant id)').fill(tenantId);
    await page.getByLabel('Email').fill(admin.email);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByLabel('Admin token').fill(process.env.ADMIN_TOKEN!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The API's problem+json, as written, and focus moves to it.
    await expect(page.getByRole('alert').innerText()).resolves.toMatch(/401/);
    await expect.poll(() => focused(page)).toBe('alert');
    // From the keyboard: Enter in the last field submits.
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByLabel('Admin token').press('Enter');
    await page.getByRole('heading', { name: 'Orders' }).waitFor();
    await expect.poll(() => focused(page)).toBe('H1 Orders');
    // Tokens live in memory only.
    const stored = await page.evaluate(() => {
      const page = globalThis as any;
      return [page.localStorage.length, page.sessionStorage.length, page.document.cookie];
    });
    expect(stored).toEqual([0, 0, '']);
    expect(await context.cookies()).toEqual([]);
    await page.getByRole('table').waitFor();
    axeReport.orders = await seriousViolations(page);

    // Find the order by the customer's email.
    await page.getByLabel('Customer email').fill(customer.email);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await expect(page.locator('tbody').innerText()).resolves.toContain(customer.email);
    await page.getByRole('link', { name: new RegExp(`open order ${orderId}`) }).click();
    await page.getByRole('heading', { name: `Order ${orderId.slice(0, 8)}` }).waitFor();
    await expect.poll(() => focused(page)).toBe(`H1 Order ${orderId.slice(0, 8)}`);
    await expect(page.locator('address').innerText()).resolves.toContain(SAMPLE_ADDRESS.line1);
    await expect(page.getByRole('region', { name: 'Customer' }).innerText()).resolves.toContain(
      'Grace Hopper',
    );
    axeReport['order detail'] = await seriousViolations(page);

    // A partial refund, then one for more than what is left: the API's 409 shown as written.
    const placed = await apiClient(host.baseUrl, await authHeaders(admin)).GET('/manage/orders/{id}', {
      params: { path: { id: orderId } },
    });
    const { totalCents, payment } = placed.data!;
    const intent = payment.paymentIntentId!;
    const usd = (cents: number): string =>
      new Intl.NumberFormat('en', { style: 'currency', currency: 'USD' }).format(cents / 100);
    const refundForm = page.getByRole('form', { name: 'Refund this order' });
    await page.getByText('Refund…').click();
    await refundForm.getByLabel('Amount (USD)').fill('10.00');
    await refundForm.getByLabel('Reason').fill('Chipped enamel');
    await refundForm.getByRole('button', { name: 'Refund' }).click();
    await expect.poll(() => page.getByTestId('refunded').innerText()).toBe(usd(1000));
    await expect(page.getByTestId('left-to-refund').innerText()).resolves.toBe(usd(totalCents - 1000));
    await expect(page.getByTestId('disputed').innerText()).resolves.toBe('no');
    const refundsRegion = page.getByRole('region', { name: 'Refunds' });
    await expect(refundsRegion.locator('tbody tr').count()).resolves.toBe(1);
    await expect(refundsRegion.locator('tbody').innerText()).resolves.toContain('Chipped enamel');
    // The live region fills 30 ms after the action (ui.tsx), possibly after the data reloaded.
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Refund of $10.00' }).count()).toBe(1);
    await expect(refundsAtStripe(intent)).resolves.toEqual([1000]);
    await refundForm.getByLabel('Amount (USD)').fill(((totalCents - 1000 + 100) / 100).toFixed(2));
    await refundForm.getByLabel('Reason').fill('Too much');
    await refundForm.getByRole('button', { name: 'Refund' }).click();
    await expect.poll(() => refundForm.getByRole('alert').innerText()).toMatch(/409/);
    await expect(refundForm.getByTestId('refund-remaining').innerText()).resolves.toContain(
      usd(totalCents - 1000),
    );
    await expect(page.getByTestId('refunded').innerText()).resolves.toBe(usd(1000));
    axeReport['order after refund'] = await seriousViolations(page);

    // Ship it.
    await page.getByLabel('Carrier').fill('DHL');
    await page.getByLabel('Tracking number').fill('JD014600003828');
    await page.getByRole('button', { name: 'Mark as shipped' }).click();
    const fulfilment = page.getByRole('region', { name: 'Fulfilment' });
    await expect.poll(() => fulfilment.innerText()).toContain('JD014600003828');
    await expect(page.locator('.facts .badge').first().innerText()).resolves.toBe('shipped');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Order shipped' }).count()).toBe(1);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'console.png'), fullPage: false });
    if (process.env.UPDATE_CONSOLE_SCREENSHOT === '1')
      copyFileSync(path.join(ARTIFACTS, 'console.png'), path.join(ROOT, 'docs', 'console.png'));

    // The cardholder disputes the payment: Stripe's charge.dispute.created webhook reaches the API, and
    // the order screen, opened again, says so.
    await fake.openDispute(intent);
    await fake.webhooksIdle();
    await nav.getByRole('link', { name: 'Orders' }).click();
    await page.getByLabel('Customer email').fill(customer.email);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: new RegExp(`open order ${orderId}`) }).click();
    await page.getByRole('heading', { name: `Order ${orderId.slice(0, 8)}` }).waitFor();
    await expect.poll(() => page.getByTestId('disputed').innerText()).toBe('disputed by the cardholder');

    // Request an export and open its CSV.
    await nav.getByRole('link', { name: 'Exports' }).click();
    await page.getByRole('heading', { name: 'Order exports' }).waitFor();
    const today = new Date().toISOString().slice(0, 10);
    await page.getByLabel('From (UTC day)').fill('2000-01-01');
    await page.getByLabel('To (UTC day, included)').fill(today);
    await page.getByRole('button', { name: 'Request export' }).click();
    await expect
      .poll(() => page.getByTestId('export-status').innerText(), { timeout: 30_000 })
      .toBe('completed');
    await expect(page.getByTestId('rows-exported').innerText()).resolves.toBe('2');
    axeReport.exports = await seriousViolations(page);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download CSV' }).click(),
    ]);
    const csv = readFileSync(await download.path(), 'utf8');
    expect(csv).toContain(orderId);
    expect(csv.trim().split('\n')).toHaveLength(3);
    // The download did not navigate away: the session is still here.
    await page.getByRole('heading', { name: 'Order exports' }).waitFor();

    // Cancel the other customer's (confirmed, unshipped) order: refunded in full at Stripe.
    const otherPlaced = await apiClient(host.baseUrl, await authHeaders(admin)).GET('/manage/orders/{id}', {
      params: { path: { id: otherOrderId } },
    });
    await nav.getByRole('link', { name: 'Orders' }).click();
    await page.getByLabel('Customer email').fill(other.email);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: new RegExp(`open order ${otherOrderId}`) }).click();
    await page.getByRole('heading', { name: `Order ${otherOrderId.slice(0, 8)}` }).waitFor();
    await page.getByText('Cancel this order…').click();
    const cancelForm = page.getByRole('form', { name: 'Cancel this order' });
    await cancelForm.getByLabel('Reason').fill('Customer asked by phone');
    await cancelForm.getByRole('button', { name: 'Cancel the order' }).click();
    await expect.poll(() => page.locator('.facts .badge').first().innerText()).toBe('cancelled');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Order cancelled' }).count()).toBe(1);
    await expect(page.getByRole('region', { name: 'Cancel' }).count()).resolves.toBe(0);
    await expect(refundsAtStripe(otherPlaced.data!.payment.paymentIntentId!)).resolves.toEqual([
      otherPlaced.data!.totalCents,
    ]);
    axeReport['order after cancel'] = await seriousViolations(page);

    // Products: a refused create shows the API's field error next to its field; then create, edit, archive.
    await nav.getByRole('link', { name: 'Products' }).click();
    await page.getByRole('heading', { name: 'Products' }).waitFor();
    await page.getByRole('table').waitFor();
    axeReport.products = await seriousViolations(page);
    await page.getByText('New product…').click();
    const sku = `CON-NEW-${randomUUID().slice(0, 6)}`;
    await page.getByLabel('SKU').fill(sku);
    await page.getByLabel('Name').fill('Walnut coaster');
    await page.getByLabel('Price').fill('9.90');
    const currency = page.getByLabel('Currency (ISO 4217)');
    await currency.fill('US');
    await page.getByRole('button', { name: 'Create product' }).click();
    await expect.poll(() => currency.getAttribute('aria-invalid')).toBe('true');
    const describedBy = (await currency.getAttribute('aria-describedby'))!.split(' ').at(-1)!;
    await expect(page.locator(`[id="${describedBy}"]`).innerText()).resolves.not.toBe('');
    await expect(page.getByRole('alert').innerText()).resolves.toMatch(/400/);
    await currency.fill('USD');
    await page.getByRole('button', { name: 'Create product' }).click();
    await page.getByRole('link', { name: 'Walnut coaster' }).click();
    await page.getByRole('heading', { name: 'Walnut coaster' }).waitFor();
    const newProductId = new URL(page.url()).hash.split('/')[2]!;
    // A stale edit: someone changes the product behind the console's back, so its save (If-Match with
    // the ETag of its read) is refused with the API's 412; after a reload the same edit goes through.
    const adminApi = apiClient(host.baseUrl, await authHeaders(admin));
    await page.getByLabel('Name').fill('Walnut coaster, oiled');
    const behindTheBack = await adminApi.PATCH('/manage/products/{id}', {
      params: { path: { id: newProductId } },
      body: { description: 'Changed by another admin' },
    });
    expect(behindTheBack.response.status).toBe(200);
    const editForm = page.getByRole('region', { name: 'Details' });
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => editForm.getByRole('alert').innerText()).toMatch(/412/);
    await expect(editForm.getByRole('alert').innerText()).resolves.toMatch(/product has changed/);
    await page.getByRole('heading', { name: 'Walnut coaster', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Reload the current version' }).click();
    await expect.poll(() => page.getByLabel('Description').inputValue()).toBe('Changed by another admin');
    await expect(editForm.getByRole('alert').count()).resolves.toBe(0);
    await page.getByLabel('Name').fill('Walnut coaster, oiled');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Walnut coaster, oiled' }).waitFor();
    const saved = await adminApi.GET('/products/{id}', { params: { path: { id: newProductId } } });
    expect(saved.data).toMatchObject({
      name: 'Walnut coaster, oiled',
      description: 'Changed by another admin',
      version: 3,
    });
    expect(saved.response.headers.get('etag')).toBe('"v3"');
    await page.getByText('Archive this product…').click();
    await page.getByRole('button', { name: 'Archive Walnut coaster, oiled' }).click();
    await page.getByText('This product is archived').waitFor();
    const gone = await fetch(`${host.baseUrl}/products/${newProductId}`, {
      headers: { 'x-tenant-id': tenantId },
    });
    expect(gone.status).toBe(404);

    // Adjust stock, and see a refusal from the API as written.
    await nav.getByRole('link', { name: 'Products' }).click();
    await page.getByRole('heading', { name: 'Products' }).waitFor();
    await page.getByRole('link', { name: 'Enamel camping mug' }).click();
    await page.getByRole('heading', { name: 'Enamel camping mug' }).waitFor();
    await page.getByTestId('on-hand').waitFor();
    const onHand = Number(await page.getByTestId('on-hand').innerText());
    axeReport.product = await seriousViolations(page);
    await page.getByLabel('Change in on-hand quantity').fill('5');
    await page.getByLabel('Reason', { exact: true }).fill('Found a box in the back room');
    await page.getByRole('button', { name: 'Adjust stock' }).click();
    await expect.poll(() => page.getByTestId('on-hand').innerText()).toBe(String(onHand + 5));
    await expect(page.getByRole('table', { name: 'Newest movements' }).innerText()).resolves.toContain(
      'Found a box in the back room',
    );
    await page.getByLabel('Change in on-hand quantity').fill(String(-(onHand + 1000)));
    await page.getByLabel('Reason', { exact: true }).fill('Too much');
    await page.getByRole('button', { name: 'Adjust stock' }).click();
    const refusal = page.getByRole('region', { name: 'Stock' }).getByRole('alert');
    await expect.poll(() => refusal.innerText()).toMatch(/409/);
    expect(await page.getByTestId('on-hand').innerText()).toBe(String(onHand + 5));

    // The access token is refreshed before it expires (15 minutes): move the page's clock on.
    const pairsBefore = refreshTokens.length;
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/auth/refresh'));
    await page.clock.fastForward('14:30');
    expect((await refreshed).status()).toBe(200);
    await expect.poll(() => refreshTokens.length).toBe(pairsBefore + 1);

    // Sign out: the tokens leave the page and the server revokes the session.
    const loggedOut = page.waitForResponse((r) => r.url().endsWith('/auth/logout'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    expect((await loggedOut).status()).toBe(204);
    await page.getByRole('heading', { name: 'Sign in to the admin console' }).waitFor();
    const reuse = await fetch(`${host.baseUrl}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant-id': tenantId },
      body: JSON.stringify({ refreshToken: refreshTokens.at(-1) }),
    });
    expect(reuse.status).toBe(401);

    expect(axeReport).toEqual({
      'sign-in': [],
      orders: [],
      'order detail': [],
      'order after refund': [],
      'order after cancel': [],
      exports: [],
      products: [],
      product: [],
    });
    expect(cspErrors).toEqual([]);
    expect(offLoopback).toEqual([]);
    await context.close();
  }, 180_000);
});

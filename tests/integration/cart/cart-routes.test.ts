import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearCart, getCart, removeCartItem, setCartItem } from '../../../functions/cart.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { openApiDocument, resetOpenApiCache } from '../../../shared/schemas/openapi.js';
import {
  closeTestPool,
  createProduct,
  createTenant,
  testPool,
  type CreatedProduct,
} from '../../fixtures/sample_data.js';
import { authHeaders, createUser, type TestUser } from '../../fixtures/users.js';
import { invoke } from '../../support/http.js';
import { deleteItem, emptyCart, putItem, quantities, readCart, storedCart, type Headers } from './helpers.js';

describe('cart routes', () => {
  let tenant: { id: string };
  let otherTenant: { id: string };
  let mug: CreatedProduct;
  let tea: CreatedProduct;
  let euroBook: CreatedProduct;
  let scarce: CreatedProduct;
  let foreign: CreatedProduct;

  async function customer(): Promise<{ user: TestUser; headers: Headers }> {
    const user = await createUser(tenant.id);
    return { user, headers: await authHeaders(user) };
  }

  beforeAll(async () => {
    tenant = await createTenant('Cart routes shop');
    otherTenant = await createTenant('Other shop');
    mug = await createProduct(tenant.id, { name: 'Mug', priceCents: 1800, stock: 40 });
    tea = await createProduct(tenant.id, { name: 'Tea', priceCents: 1250, stock: 100 });
    euroBook = await createProduct(tenant.id, { name: 'Buch', priceCents: 2500, currency: 'EUR', stock: 5 });
    scarce = await createProduct(tenant.id, { name: 'Grinder', priceCents: 14900, stock: 3 });
    foreign = await createProduct(otherTenant.id, { name: 'Not yours', priceCents: 100, stock: 50 });
  });

  afterAll(async () => {
    await closeOrms();
    await closeTestPool();
  });

  it('gives a customer without a cart an empty cart at version 0', async () => {
    const { user, headers } = await customer();
    const res = await readCart(headers);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ lines: [], totalCents: 0, currency: null, version: 0 });
    expect(res.headers.get('etag')).toBe('"v0"');
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    expect((await storedCart(tenant.id, user.id)).carts).toBe(0);
  });

  it('creates the cart on the first write and prices lines at the current price', async () => {
    const { user, headers } = await customer();
    const first = await putItem(headers, mug.id, 2);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({
      lines: [{ productId: mug.id, name: 'Mug', quantity: 2, unitPriceCents: 1800, lineTotalCents: 3600 }],
      totalCents: 3600,
      currency: 'USD',
      version: 1,
    });
    expect(first.headers.get('etag')).toBe('"v1"');

    const second = await putItem(headers, tea.id, 3);
    expect(second.json.version).toBe(2);
    expect(second.json.totalCents).toBe(3600 + 3750);
    expect(second.json.lines.map((l: { productId: string }) => l.productId)).toEqual([mug.id, tea.id]);

    // Setting the same product again replaces its quantity: still one line for it, same position.
    const again = await putItem(headers, mug.id, 5);
    expect(quantities(again.json)).toEqual({ [mug.id]: 5, [tea.id]: 3 });
    expect(again.json.lines[0].productId).toBe(mug.id);
    expect(again.json.version).toBe(3);

    // Prices are read at every request, not stored with the line.
    const priceAfter = await createProduct(tenant.id, { priceCents: 999, stock: 10 });
    await putItem(headers, priceAfter.id, 1);
    await testPool().query('update products set price_cents = 1234, name = $2 where id = $1', [
      priceAfter.id,
      'Renamed',
    ]);
    const read = await readCart(headers);
    const line = read.json.lines.find((l: { productId: string }) => l.productId === priceAfter.id);
    expect(line).toEqual({
      productId: priceAfter.id,
      name: 'Renamed',
      quantity: 1,
      unitPriceCents: 1234,
      lineTotalCents: 1234,
    });
    expect(read.json.totalCents).toBe(5 * 1800 + 3 * 1250 + 1234);
    expect(read.json.version).toBe(4);

    const stored = await storedCart(tenant.id, user.id);
    expect(stored).toMatchObject({ carts: 1, version: 4, rows: 3 });
  });

  it('removes lines with quantity 0, DELETE /cart/items and DELETE /cart, bumping the version each time', async () => {
    const { user, headers } = await customer();
    await putItem(headers, mug.id, 1);
    await putItem(headers, tea.id, 1);
    await putItem(headers, scarce.id, 1);

    const zero = await putItem(headers, mug.id, 0);
    expect(zero.status).toBe(200);
    expect(quantities(zero.json)).toEqual({ [tea.id]: 1, [scarce.id]: 1 });
    expect(zero.json.version).toBe(4);

    const removed = await deleteItem(headers, tea.id);
    expect(removed.status).toBe(200);
    expect(quantities(removed.json)).toEqual({ [scarce.id]: 1 });
    expect(removed.headers.get('etag')).toBe('"v5"');

    // Removing a line that is not there is not an error and changes no line.
    const absent = await deleteItem(headers, tea.id);
    expect(absent.status).toBe(200);
    expect(quantities(absent.json)).toEqual({ [scarce.id]: 1 });

    const emptied = await emptyCart(headers);
    expect(emptied.status).toBe(200);
    expect(emptied.json).toEqual({ lines: [], totalCents: 0, currency: null, version: 7 });
    expect(emptied.headers.get('etag')).toBe('"v7"');

    // The cart row stays, so the version never goes back and an old ETag can never match again.
    const read = await readCart(headers);
    expect(read.json).toEqual({ lines: [], totalCents: 0, currency: null, version: 7 });
    expect(await storedCart(tenant.id, user.id)).toMatchObject({ carts: 1, version: 7, rows: 0 });
  });

  it('refuses a product in another currency with 409 and changes nothing', async () => {
    const { user, headers } = await customer();
    await putItem(headers, mug.id, 1);
    const res = await putItem(headers, euroBook.id, 1);
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.json).toMatchObject({
      type: 'https://errors.ecommerce-api.dev/currency-mismatch',
      cartCurrency: 'USD',
      productCurrency: 'EUR',
    });
    expect(await storedCart(tenant.id, user.id)).toMatchObject({ version: 1, lines: { [mug.id]: 1 } });

    // Once the cart is empty it takes any currency.
    await putItem(headers, mug.id, 0);
    const euro = await putItem(headers, euroBook.id, 2);
    expect(euro.status).toBe(200);
    expect(euro.json).toMatchObject({ currency: 'EUR', totalCents: 5000 });
  });

  it('refuses more than the available stock with 409 and the available quantity', async () => {
    const { user, headers } = await customer();
    const res = await putItem(headers, scarce.id, 4);
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({
      type: 'https://errors.ecommerce-api.dev/insufficient-inventory',
      productId: scarce.id,
      available: 3,
    });
    expect((await storedCart(tenant.id, user.id)).carts).toBe(0);
    expect((await putItem(headers, scarce.id, 3)).status).toBe(200);

    // Stock counts as it is now: after a sale leaves 1, asking for 2 is refused and the line stays at 3.
    const limited = await createProduct(tenant.id, { stock: 5 });
    await putItem(headers, limited.id, 2);
    await testPool().query('update inventory set available = 1 where product_id = $1', [limited.id]);
    const over = await putItem(headers, limited.id, 2);
    expect(over.status).toBe(409);
    expect(over.json.available).toBe(1);
    expect(await storedCart(tenant.id, user.id)).toMatchObject({
      lines: { [scarce.id]: 3, [limited.id]: 2 },
    });
  });

  it('answers 404 for unknown, archived and other tenants’ products and changes nothing', async () => {
    const { user, headers } = await customer();
    await putItem(headers, mug.id, 1);
    const archived = await createProduct(tenant.id, { stock: 10 });
    await testPool().query(`update products set status = 'archived' where id = $1`, [archived.id]);

    for (const productId of [randomUUID(), archived.id, foreign.id]) {
      const res = await putItem(headers, productId, 1);
      expect(res.status).toBe(404);
      expect(res.json.type).toBe('https://errors.ecommerce-api.dev/not-found');
      // The problem names no tenant, product or owner.
      expect(res.text).not.toContain(otherTenant.id);
    }
    expect(await storedCart(tenant.id, user.id)).toMatchObject({
      version: 1,
      lines: { [mug.id]: 1 },
      rows: 1,
    });
  });

  it('hides a line once its product is archived, and shows it again if it comes back', async () => {
    const { headers } = await customer();
    const later = await createProduct(tenant.id, { priceCents: 700, stock: 10 });
    await putItem(headers, mug.id, 1);
    await putItem(headers, later.id, 2);
    await testPool().query(`update products set status = 'archived' where id = $1`, [later.id]);
    const hidden = await readCart(headers);
    expect(quantities(hidden.json)).toEqual({ [mug.id]: 1 });
    expect(hidden.json.totalCents).toBe(1800);
    await testPool().query(`update products set status = 'active' where id = $1`, [later.id]);
    const back = await readCart(headers);
    expect(quantities(back.json)).toEqual({ [mug.id]: 1, [later.id]: 2 });
    expect(back.json.totalCents).toBe(1800 + 1400);
  });

  it.each([
    ['above 99', { quantity: 100 }],
    ['negative', { quantity: -1 }],
    ['fractional', { quantity: 1.5 }],
    ['a string', { quantity: '2' }],
    ['missing', {}],
    ['with extra fields', { quantity: 1, price: 1 }],
  ])('answers 400 for a quantity %s and changes nothing', async (_label, body) => {
    const { user, headers } = await customer();
    const res = await invoke(setCartItem, {
      method: 'PUT',
      url: `http://localhost/api/cart/items/${mug.id}`,
      params: { productId: mug.id },
      headers,
      body,
    });
    expect(res.status).toBe(400);
    expect(res.json.type).toBe('https://errors.ecommerce-api.dev/validation');
    expect(res.json.errors.length).toBeGreaterThan(0);
    expect((await storedCart(tenant.id, user.id)).carts).toBe(0);
  });

  it('answers 400 for a product id that is not a UUID', async () => {
    const { headers } = await customer();
    const put = await putItem(headers, 'not-a-uuid', 1);
    expect(put.status).toBe(400);
    expect(put.json.errors.map((e: { field: string }) => e.field)).toEqual(['path.productId']);
    expect((await deleteItem(headers, "1' or 1=1 --")).status).toBe(400);
  });

  it('answers 401 on every route without a valid access token', async () => {
    const calls = [
      (h: Headers) => invoke(getCart, { method: 'GET', headers: h }),
      (h: Headers) =>
        invoke(setCartItem, {
          method: 'PUT',
          params: { productId: mug.id },
          headers: h,
          body: { quantity: 1 },
        }),
      (h: Headers) => invoke(removeCartItem, { method: 'DELETE', params: { productId: mug.id }, headers: h }),
      (h: Headers) => invoke(clearCart, { method: 'DELETE', headers: h }),
    ];
    for (const call of calls) {
      for (const headers of <Headers[]>[
        {},
        { 'x-tenant-id': tenant.id },
        { authorization: 'Bearer not.a.token' },
        { authorization: 'Basic dXNlcjpwYXNz' },
      ]) {
        const res = await call(headers);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    }
  });

  it('answers 403 when X-Tenant-ID names another tenant than the token', async () => {
    const { headers } = await customer();
    const res = await readCart({ ...headers, 'x-tenant-id': otherTenant.id });
    expect(res.status).toBe(403);
  });

  it('keeps carts apart per user and per tenant', async () => {
    const a = await customer();
    const b = await customer();
    const elsewhere = await createUser(otherTenant.id);
    await putItem(a.headers, mug.id, 2);
    expect((await readCart(b.headers)).json.lines).toEqual([]);
    expect((await readCart(await authHeaders(elsewhere))).json.lines).toEqual([]);
    expect((await putItem(await authHeaders(elsewhere), foreign.id, 1)).status).toBe(200);
    expect(quantities((await readCart(a.headers)).json)).toEqual({ [mug.id]: 2 });
  });

  describe('If-Match', () => {
    it('applies a change made against the current ETag', async () => {
      const { headers } = await customer();
      const created = await putItem({ ...headers, 'if-match': '"v0"' }, mug.id, 1);
      expect(created.status).toBe(200);
      expect(created.json.version).toBe(1);
      const etag = created.headers.get('etag')!;
      const next = await putItem({ ...headers, 'if-match': etag }, tea.id, 1);
      expect(next.status).toBe(200);
      expect(next.json.version).toBe(2);
      // A list matches if any member does; `*` matches whatever the version.
      expect((await deleteItem({ ...headers, 'if-match': '"v1", "v2"' }, tea.id)).status).toBe(200);
      expect((await putItem({ ...headers, 'if-match': '*' }, tea.id, 4)).json.version).toBe(4);
    });

    it('answers 412 for a stale or foreign ETag and changes nothing', async () => {
      const { user, headers } = await customer();
      const first = await putItem(headers, mug.id, 1);
      const stale = first.headers.get('etag')!;
      await putItem(headers, tea.id, 1);
      const before = await storedCart(tenant.id, user.id);

      for (const ifMatch of [stale, '"v0"', '"v99"', 'W/"v2"', '"something-else"']) {
        const h = { ...headers, 'if-match': ifMatch };
        for (const res of [
          await putItem(h, mug.id, 9),
          await putItem(h, tea.id, 0),
          await deleteItem(h, mug.id),
          await emptyCart(h),
        ]) {
          expect(res.status).toBe(412);
          expect(res.json.type).toBe('https://errors.ecommerce-api.dev/precondition-failed');
        }
      }
      expect(await storedCart(tenant.id, user.id)).toEqual(before);
      expect(before.version).toBe(2);
    });

    it('answers 412 to a versioned If-Match on a cart that was never written, without creating it', async () => {
      const { user, headers } = await customer();
      expect((await putItem({ ...headers, 'if-match': '"v3"' }, mug.id, 1)).status).toBe(412);
      expect((await storedCart(tenant.id, user.id)).carts).toBe(0);
    });

    it('answers 400 for a malformed If-Match', async () => {
      const { user, headers } = await customer();
      const res = await putItem({ ...headers, 'if-match': 'v1' }, mug.id, 1);
      expect(res.status).toBe(400);
      expect(res.json.errors).toEqual([{ field: 'header.If-Match', message: expect.any(String) }]);
      expect((await storedCart(tenant.id, user.id)).carts).toBe(0);
    });

    it('lets a 404 or 409 win over a stale ETag (preconditions only guard changes that could succeed)', async () => {
      const { headers } = await customer();
      await putItem(headers, mug.id, 1);
      const h = { ...headers, 'if-match': '"v0"' };
      expect((await putItem(h, randomUUID(), 1)).status).toBe(404);
      expect((await putItem(h, scarce.id, 50)).status).toBe(409);
    });
  });

  it('answers 304 to If-None-Match with the current ETag', async () => {
    const { headers } = await customer();
    const put = await putItem(headers, mug.id, 1);
    const etag = put.headers.get('etag')!;
    const same = await readCart({ ...headers, 'if-none-match': etag });
    expect(same.status).toBe(304);
    expect(same.text).toBe('');
    expect(same.headers.get('etag')).toBe(etag);
    await putItem(headers, mug.id, 2);
    const changed = await readCart({ ...headers, 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).toBe('"v2"');
  });

  it('documents the routes, the If-Match header and the 409/412 answers in OpenAPI', () => {
    resetOpenApiCache();
    const doc = openApiDocument();
    const put = doc.paths?.['/cart/items/{productId}']?.put;
    expect(put).toBeDefined();
    expect(put!.responses).toHaveProperty('200');
    expect(put!.responses).toHaveProperty('409');
    expect(put!.responses).toHaveProperty('412');
    expect(put!.responses).toHaveProperty('404');
    expect(put!.responses).toHaveProperty('401');
    const params = (put!.parameters ?? []) as { name: string; in: string }[];
    expect(params).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'If-Match', in: 'header' }),
        expect.objectContaining({ name: 'productId', in: 'path' }),
      ]),
    );
    expect(doc.paths?.['/cart']?.get).toBeDefined();
    expect(doc.paths?.['/cart']?.delete?.responses).toHaveProperty('412');
    expect(doc.paths?.['/cart/items/{productId}']?.delete).toBeDefined();
    expect(doc.components?.schemas).toHaveProperty('Cart');
    expect(doc.components?.schemas).toHaveProperty('CartLine');
    expect(doc.components?.schemas).toHaveProperty('SetCartQuantity');
  });
});

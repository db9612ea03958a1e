import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { closeRedis } from '../../../shared/cache/redis.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { countQueries } from '../../../shared/db/query-counter.js';
import { closeTestPool, testPool } from '../../fixtures/sample_data.js';
import {
  archive,
  create,
  created,
  createShop,
  customer,
  detail,
  insertProducts,
  list,
  patch,
  search,
  setStock,
  walk,
  type Shop,
} from './helpers.js';

describe('catalog: products', () => {
  let shop: Shop;
  let other: Shop;

  beforeAll(async () => {
    shop = await createShop('Products shop');
    other = await createShop('Other shop');
  });
  afterAll(async () => {
    await closeOrms();
    await closeRedis();
    await closeTestPool();
  });

  describe('admin writes', () => {
    it('creates a product with its stock and answers with the detail and its Location', async () => {
      const res = await create(shop, {
        sku: 'MUG-1',
        name: 'Stoneware mug',
        description: 'Hand glazed.',
        priceCents: 1800,
        currency: 'EUR',
        stock: 40,
      });
      expect(res.status).toBe(201);
      expect(res.json).toMatchObject({
        sku: 'MUG-1',
        name: 'Stoneware mug',
        description: 'Hand glazed.',
        priceCents: 1800,
        currency: 'EUR',
        available: 40,
        rating: { average: null, count: 0 },
      });
      expect(res.headers.get('location')).toBe(`/api/products/${res.json.id}`);
      const inv = await testPool().query(
        'select available, reserved, sold from inventory where product_id = $1',
        [res.json.id],
      );
      expect(inv.rows[0]).toEqual({ available: 40, reserved: 0, sold: 0 });
      const again = await detail(shop.anonymous, res.json.id);
      expect(again.json).toEqual(res.json);
    });

    it('refuses a SKU already used in the tenant (409), but not in another tenant', async () => {
      await created(shop, { sku: 'DUP-1' });
      expect((await create(shop, { sku: 'DUP-1' })).status).toBe(409);
      expect((await create(other, { sku: 'DUP-1' })).status).toBe(201);
    });

    it.each([
      ['a negative price', { priceCents: -1 }],
      ['a fractional price', { priceCents: 10.5 }],
      ['negative stock', { stock: -1 }],
      ['a lowercase currency', { currency: 'usd' }],
      ['an empty name', { name: '   ' }],
      ['a NUL in the name', { name: 'mug\u0000' }],
      ['a bad SKU', { sku: 'has space' }],
    ])('answers %s with 400 and creates nothing', async (_label, input) => {
      const before = await testPool().query('select count(*)::int as n from products where tenant_id = $1', [
        shop.tenantId,
      ]);
      const res = await create(shop, input as never);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const after = await testPool().query('select count(*)::int as n from products where tenant_id = $1', [
        shop.tenantId,
      ]);
      expect(after.rows[0].n).toBe(before.rows[0].n);
    });

    it('updates any subset of fields but stock, and the change is visible at once through the cache', async () => {
      const product = await created(shop, { name: 'Old name', priceCents: 500 });
      expect((await detail(shop.anonymous, product.id)).json.name).toBe('Old name'); // now cached
      const res = await patch(shop, product.id, { name: 'New name', priceCents: 650 });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ name: 'New name', priceCents: 650, sku: product.sku, available: 10 });
      const read = await detail(shop.anonymous, product.id);
      expect(read.json).toMatchObject({ name: 'New name', priceCents: 650 });
    });

    it('rejects a PATCH of stock, an empty PATCH and a SKU clash', async () => {
      const a = await created(shop, { sku: 'CLASH-A' });
      await created(shop, { sku: 'CLASH-B' });
      expect((await patch(shop, a.id, { stock: 5 })).status).toBe(400);
      expect((await patch(shop, a.id, {})).status).toBe(400);
      expect((await patch(shop, a.id, { sku: 'CLASH-B' })).status).toBe(409);
      expect((await detail(shop.anonymous, a.id)).json.sku).toBe('CLASH-A');
    });

    it('sets the sellable quantity, leaves reserved and sold alone, and shows it at once', async () => {
      const product = await created(shop, { stock: 10 });
      await testPool().query('update inventory set reserved = 3, sold = 7 where product_id = $1', [
        product.id,
      ]);
      expect((await detail(shop.anonymous, product.id)).json.available).toBe(10); // cached
      const res = await setStock(shop, product.id, { quantity: 25 });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ productId: product.id, available: 25, reserved: 3, sold: 7 });
      expect((await detail(shop.anonymous, product.id)).json.available).toBe(25);
      expect((await setStock(shop, product.id, { quantity: -1 })).status).toBe(400);
      expect((await setStock(shop, product.id, { quantity: 1.5 })).status).toBe(400);
      expect((await setStock(shop, product.id, { quantity: 0 })).json.available).toBe(0);
      expect((await detail(shop.anonymous, product.id)).json.available).toBe(0);
    });

    it('archives: the product vanishes from detail, lists and search at once', async () => {
      const word = `zarchive${randomUUID().slice(0, 6)}`;
      const product = await created(shop, { name: `Archived ${word}` });
      expect((await detail(shop.anonymous, product.id)).status).toBe(200);
      const listed = await list(shop.anonymous, { pageSize: '100' });
      expect(listed.json.items.map((p: { id: string }) => p.id)).toContain(product.id);
      expect((await search(shop.anonymous, { q: word })).json.items).toHaveLength(1);

      expect((await archive(shop, product.id)).status).toBe(204);
      expect((await detail(shop.anonymous, product.id)).status).toBe(404);
      const relisted = await list(shop.anonymous, { pageSize: '100' });
      expect(relisted.json.items.map((p: { id: string }) => p.id)).not.toContain(product.id);
      expect((await search(shop.anonymous, { q: word })).json.items).toHaveLength(0);
      expect((await archive(shop, product.id)).status).toBe(404);
      expect((await patch(shop, product.id, { name: 'x' })).status).toBe(404);
      expect((await setStock(shop, product.id, { quantity: 1 })).status).toBe(404);
    });

    it('keeps admin routes to admins: no token 401, customer 403, missing admin token 401', async () => {
      const { headers } = await customer(shop);
      expect((await create(shop, {}, shop.anonymous)).status).toBe(401);
      expect((await create(shop, {}, { ...headers, 'x-admin-token': process.env.ADMIN_TOKEN! })).status).toBe(
        403,
      );
      const { 'x-admin-token': _omit, ...bearerOnly } = shop.adminHeaders;
      expect((await create(shop, {}, bearerOnly)).status).toBe(401);
    });
  });

  describe('tenancy', () => {
    it('never shows or changes another tenant’s product (404)', async () => {
      const theirs = await created(other, { name: 'Theirs' });
      expect((await detail(shop.anonymous, theirs.id)).status).toBe(404);
      expect((await patch(shop, theirs.id, { name: 'Mine now' })).status).toBe(404);
      expect((await setStock(shop, theirs.id, { quantity: 0 })).status).toBe(404);
      expect((await archive(shop, theirs.id)).status).toBe(404);
      const res = await detail(other.anonymous, theirs.id);
      expect(res.json).toMatchObject({ name: 'Theirs', available: 10 });
      const mine = await list(shop.anonymous, { pageSize: '100' });
      expect(mine.json.items.map((p: { id: string }) => p.id)).not.toContain(theirs.id);
    });

    it('treats an upper-case id as the same product, cache invalidation included', async () => {
      const product = await created(shop, { name: 'Case' });
      const upper = product.id.toUpperCase();
      expect((await detail(shop.anonymous, upper)).json.name).toBe('Case');
      await patch(shop, product.id, { name: 'Case v2' });
      expect((await detail(shop.anonymous, upper)).json.name).toBe('Case v2');
    });

    it('answers an unknown id or a malformed one without a 500', async () => {
      expect((await detail(shop.anonymous, randomUUID())).status).toBe(404);
      expect((await detail(shop.anonymous, 'not-a-uuid')).status).toBe(400);
    });
  });

  describe('lists', () => {
    let listShop: Shop;
    const prices = [700, 100, 500, 300, 300, 900, 200, 800, 300, 600, 400, 1000];

    beforeAll(async () => {
      listShop = await createShop('List shop');
      const base = Date.now() - 60_000;
      await insertProducts(
        listShop.tenantId,
        prices.map((priceCents, i) => ({ name: `P${i}`, priceCents, createdAt: new Date(base + i * 1000) })),
      );
      // Same created_at for two rows: the id must break the tie.
      await insertProducts(listShop.tenantId, [
        { name: 'Twin A', priceCents: 300, createdAt: new Date(base + 5_500) },
        { name: 'Twin B', priceCents: 300, createdAt: new Date(base + 5_500) },
      ]);
      // Archived rows never show.
      const [gone] = await insertProducts(listShop.tenantId, [{ name: 'Gone', priceCents: 350 }]);
      await testPool().query(`update products set status = 'archived' where id = $1`, [gone]);
    });

    async function all(query: Record<string, string>): Promise<any[]> {
      return (await walk((q) => list(listShop.anonymous, q), query)).flat();
    }

    it('pages newest first through every active product exactly once', async () => {
      const items = await all({ pageSize: '3' });
      expect(items).toHaveLength(14);
      expect(new Set(items.map((p) => p.id)).size).toBe(14);
      const created = items.map((p) => Date.parse(p.createdAt));
      expect([...created].sort((a, b) => b - a)).toEqual(created);
      expect(items.map((p) => p.name)).not.toContain('Gone');
      expect(items[0]).not.toHaveProperty('available');
    });

    it.each([
      ['price_asc', (a: number, b: number) => a - b],
      ['price_desc', (a: number, b: number) => b - a],
    ] as const)('sorts by %s with id as the tie-break, across pages', async (sort, compare) => {
      const items = await all({ sort, pageSize: '4' });
      expect(items).toHaveLength(14);
      const seen = items.map((p) => p.priceCents);
      expect(seen).toEqual([...seen].sort(compare));
      expect(new Set(items.map((p) => p.id)).size).toBe(14);
      const ties = items.filter((p) => p.priceCents === 300).map((p) => p.id);
      expect(ties).toEqual(
        [...ties].sort((a, b) => (sort === 'price_asc' ? a.localeCompare(b) : b.localeCompare(a))),
      );
    });

    it('filters by minPrice and maxPrice (inclusive)', async () => {
      const items = await all({ sort: 'price_asc', minPrice: '300', maxPrice: '600', pageSize: '2' });
      expect(items.map((p) => p.priceCents)).toEqual([300, 300, 300, 300, 300, 400, 500, 600]);
    });

    it.each([
      [{ pageSize: '101' }],
      [{ pageSize: '0' }],
      [{ sort: 'random' }],
      [{ minPrice: '-1' }],
      [{ minPrice: 'abc' }],
      [{ minPrice: '500', maxPrice: '100' }],
      [{ cursor: 'not a cursor' }],
      [{ cursor: Buffer.from('{"s":"newest","c":"x","i":"y"}').toString('base64url') }],
    ])('answers bad query %j with 400', async (query) => {
      const res = await list(listShop.anonymous, query);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    });

    it('refuses a cursor of another sort order', async () => {
      const first = await list(listShop.anonymous, { sort: 'price_asc', pageSize: '2' });
      const res = await list(listShop.anonymous, { sort: 'price_desc', cursor: first.json.nextCursor });
      expect(res.status).toBe(400);
      const newest = await list(listShop.anonymous, { pageSize: '2' });
      expect(
        (await list(listShop.anonymous, { sort: 'price_asc', cursor: newest.json.nextCursor })).status,
      ).toBe(400);
    });

    it('stays stable when products are added between pages', async () => {
      const shopForInserts = await createShop('Insert shop');
      const base = Date.now() - 60_000;
      await insertProducts(
        shopForInserts.tenantId,
        Array.from({ length: 9 }, (_, i) => ({ name: `S${i}`, createdAt: new Date(base + i * 1000) })),
      );
      const pages = await walk(
        (q) => list(shopForInserts.anonymous, q),
        { pageSize: '4' },
        async () => {
          await created(shopForInserts, { name: 'Inserted meanwhile' });
        },
      );
      const names = pages.flat().map((p) => p.name);
      expect(names).toEqual(['S8', 'S7', 'S6', 'S5', 'S4', 'S3', 'S2', 'S1', 'S0']);
    });

    it('serves a cached page until a catalog write invalidates it', async () => {
      const cacheShop = await createShop('Cache shop');
      const [id] = await insertProducts(cacheShop.tenantId, [{ name: 'Cached name' }]);
      expect((await list(cacheShop.anonymous)).json.items[0].name).toBe('Cached name');
      // A change behind the application's back is not seen: the page comes from Redis.
      await testPool().query(`update products set name = 'Sneaky' where id = $1`, [id]);
      expect((await list(cacheShop.anonymous)).json.items[0].name).toBe('Cached name');
      // A write through the API invalidates the tenant's pages at once.
      await created(cacheShop, { name: 'Another' });
      const names = (await list(cacheShop.anonymous)).json.items.map((p: { name: string }) => p.name);
      expect(names).toEqual(['Another', 'Sneaky']);
    });

    it('loads a page in the same number of statements for pageSize 1 and 100 (no N+1)', async () => {
      const noCacheShop = await createShop('Count shop');
      await insertProducts(
        noCacheShop.tenantId,
        Array.from({ length: 120 }, (_, i) => ({ name: `N${i}`, priceCents: 100 + i })),
      );
      await list(noCacheShop.anonymous, { pageSize: '2' }); // tenant lookup cached
      const one = await countQueries(() => list(noCacheShop.anonymous, { pageSize: '1', sort: 'price_asc' }));
      const hundred = await countQueries(() =>
        list(noCacheShop.anonymous, { pageSize: '100', sort: 'price_asc' }),
      );
      expect(one.result.json.items).toHaveLength(1);
      expect(hundred.result.json.items).toHaveLength(100);
      expect(one.queries).toBe(1);
      expect(hundred.queries).toBe(one.queries);
      // …and a cached page costs no statement at all.
      const cached = await countQueries(() =>
        list(noCacheShop.anonymous, { pageSize: '100', sort: 'price_asc' }),
      );
      expect(cached.queries).toBe(0);
    });
  });

  describe('detail', () => {
    it('includes available stock and the rating summary', async () => {
      const [id] = await insertProducts(shop.tenantId, [{ name: 'Rated' }]);
      await testPool().query('update products set rating_count = 3, rating_sum = 13 where id = $1', [id]);
      await testPool().query('update inventory set available = 4 where product_id = $1', [id]);
      const res = await detail(shop.anonymous, id!);
      expect(res.json).toMatchObject({ id, available: 4, rating: { average: 4.33, count: 3 } });
    });

    it('loads the database once for many concurrent misses (no stampede)', async () => {
      const product = await created(shop, { name: 'Hot product' });
      await detail(shop.anonymous, randomUUID()); // tenant lookup cached, nothing else warmed
      // Creating it invalidated nothing we read yet; make sure its key is cold.
      await patch(shop, product.id, { name: 'Hot product v2' });
      const { result, queries } = await countQueries(() =>
        Promise.all(Array.from({ length: 30 }, () => detail(shop.anonymous, product.id))),
      );
      expect(result.every((r) => r.status === 200 && r.json.name === 'Hot product v2')).toBe(true);
      expect(queries).toBe(1);
    });
  });
});

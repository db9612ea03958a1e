import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { closeRedis } from '../../../shared/cache/redis.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { countQueries } from '../../../shared/db/query-counter.js';
import { closeTestPool, testPool } from '../../fixtures/sample_data.js';
import { authHeaders, createUser } from '../../fixtures/users.js';
import {
  archive,
  created,
  createShop,
  customer,
  detail,
  list,
  productReviews,
  recentReviews,
  review,
  walk,
  type Shop,
} from './helpers.js';

const good = { rating: 5, title: 'Great', body: 'Would buy again.' };

describe('catalog: reviews', () => {
  let shop: Shop;

  beforeAll(async () => {
    shop = await createShop('Review shop');
  });
  afterAll(async () => {
    await closeOrms();
    await closeRedis();
    await closeTestPool();
  });

  it('creates a review with its author’s name and updates the cached rating at once', async () => {
    const product = await created(shop, { name: 'Reviewed mug' });
    expect((await detail(shop.anonymous, product.id)).json.rating).toEqual({ average: null, count: 0 });
    const listed = await list(shop.anonymous, { pageSize: '100' }); // list page cached too
    expect(listed.json.items.find((p: { id: string }) => p.id === product.id).rating.count).toBe(0);

    const ada = await customer(shop, 'Ada Lovelace');
    const res = await review(ada.headers, product.id, { rating: 4, title: ' Solid ', body: 'Nice glaze.' });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      rating: 4,
      title: 'Solid',
      body: 'Nice glaze.',
      author: { name: 'Ada Lovelace' },
    });
    expect(Date.parse(res.json.createdAt)).not.toBeNaN();

    const bob = await customer(shop, 'Bob');
    expect((await review(bob.headers, product.id, { ...good, rating: 1 })).status).toBe(201);
    expect((await detail(shop.anonymous, product.id)).json.rating).toEqual({ average: 2.5, count: 2 });
    const relisted = await list(shop.anonymous, { pageSize: '100' });
    expect(relisted.json.items.find((p: { id: string }) => p.id === product.id).rating).toEqual({
      average: 2.5,
      count: 2,
    });
  });

  it('allows one review per customer per product (409) and leaves the rating untouched', async () => {
    const product = await created(shop);
    const { headers } = await customer(shop);
    expect((await review(headers, product.id, good)).status).toBe(201);
    const again = await review(headers, product.id, { ...good, rating: 1 });
    expect(again.status).toBe(409);
    const { rows } = await testPool().query('select rating_count, rating_sum from products where id = $1', [
      product.id,
    ]);
    expect(rows[0]).toEqual({ rating_count: 1, rating_sum: 5 });
  });

  it('counts every concurrent review exactly once, and only one per customer', async () => {
    const product = await created(shop);
    const reviewers = await Promise.all(Array.from({ length: 8 }, (_, i) => customer(shop, `R${i}`)));
    const results = await Promise.all(
      reviewers.map((r, i) => review(r.headers, product.id, { ...good, rating: (i % 5) + 1 })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    // The same customer, five times at once: one wins.
    const eager = await customer(shop, 'Eager');
    const repeats = await Promise.all(
      Array.from({ length: 5 }, () => review(eager.headers, product.id, good)),
    );
    expect(repeats.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    const expectedSum = [1, 2, 3, 4, 5, 1, 2, 3].reduce((a, b) => a + b, 0) + 5;
    const { rows } = await testPool().query(
      `select p.rating_count, p.rating_sum, (select count(*)::int from reviews r where r.product_id = p.id) as n
         from products p where p.id = $1`,
      [product.id],
    );
    expect(rows[0]).toEqual({ rating_count: 9, rating_sum: expectedSum, n: 9 });
  });

  it.each([
    [{ ...good, rating: 0 }],
    [{ ...good, rating: 6 }],
    [{ ...good, rating: 4.5 }],
    [{ ...good, title: '' }],
    [{ ...good, body: '   ' }],
    [{ ...good, body: 'x'.repeat(5_001) }],
    [{ rating: 5, title: 'No body' }],
    [{ ...good, extra: true }],
  ])('answers invalid review %j with 400', async (body) => {
    const product = await created(shop);
    const { headers } = await customer(shop);
    expect((await review(headers, product.id, body)).status).toBe(400);
    expect((await productReviews(shop.anonymous, product.id)).json.items).toHaveLength(0);
  });

  it('needs a signed-in customer, an active product of the caller’s tenant', async () => {
    const product = await created(shop);
    expect((await review(shop.anonymous, product.id, good)).status).toBe(401);
    const { headers } = await customer(shop);
    expect((await review(headers, randomUUID(), good)).status).toBe(404);
    const other = await createShop('Other review shop');
    const theirs = await created(other);
    expect((await review(headers, theirs.id, good)).status).toBe(404);
    expect((await productReviews(shop.anonymous, theirs.id)).status).toBe(404);
    await archive(shop, product.id);
    expect((await review(headers, product.id, good)).status).toBe(404);
  });

  it('lists a product’s reviews newest first with author names, in stable pages', async () => {
    const product = await created(shop);
    for (let i = 0; i < 5; i++) {
      const { headers } = await customer(shop, `Author ${i}`);
      expect((await review(headers, product.id, { ...good, title: `T${i}` })).status).toBe(201);
    }
    const pages = await walk((q) => productReviews(shop.anonymous, product.id, q), { pageSize: '2' });
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    const items = pages.flat();
    expect(items.map((r) => r.title)).toEqual(['T4', 'T3', 'T2', 'T1', 'T0']);
    expect(items.map((r) => r.author.name)).toEqual([
      'Author 4',
      'Author 3',
      'Author 2',
      'Author 1',
      'Author 0',
    ]);
    expect(items[0]).not.toHaveProperty('product');
  });

  it('hides a deleted account’s name', async () => {
    const product = await created(shop);
    const user = await createUser(shop.tenantId, { name: 'Private Person' });
    expect((await review(await authHeaders(user), product.id, good)).status).toBe(201);
    await testPool().query('update users set deleted_at = now() where id = $1', [user.id]);
    const items = (await productReviews(shop.anonymous, product.id)).json.items;
    expect(items[0].author.name).toBe('Former customer');
  });

  describe('GET /reviews', () => {
    let feed: Shop;
    const productNames: string[] = [];

    beforeAll(async () => {
      feed = await createShop('Feed shop');
      const writers = await Promise.all(Array.from({ length: 4 }, (_, i) => customer(feed, `Writer ${i}`)));
      for (let p = 0; p < 30; p++) {
        const product = await created(feed, { name: `Feed product ${p}`, priceCents: 100 + p });
        productNames.push(product.name);
        const writer = writers[p % writers.length]!;
        expect((await review(writer.headers, product.id, { ...good, title: `On ${p}` })).status).toBe(201);
      }
    });

    it('lists the newest reviews with each product’s summary', async () => {
      const res = await recentReviews(feed.anonymous, { pageSize: '3' });
      expect(res.status).toBe(200);
      expect(res.json.items.map((r: { title: string }) => r.title)).toEqual(['On 29', 'On 28', 'On 27']);
      expect(res.json.items[0]).toMatchObject({
        author: { name: 'Writer 1' },
        product: { name: 'Feed product 29', priceCents: 129, currency: 'USD' },
      });
      const all = (await walk((q) => recentReviews(feed.anonymous, q), { pageSize: '7' })).flat();
      expect(all).toHaveLength(30);
      expect(new Set(all.map((r) => r.id)).size).toBe(30);
    });

    it('uses the same number of statements for pageSize 1 and 100 (no review→product N+1)', async () => {
      await recentReviews(feed.anonymous, { pageSize: '2' }); // tenant lookup cached
      const one = await countQueries(() => recentReviews(feed.anonymous, { pageSize: '1' }));
      const hundred = await countQueries(() => recentReviews(feed.anonymous, { pageSize: '100' }));
      expect(one.result.json.items).toHaveLength(1);
      expect(hundred.result.json.items).toHaveLength(30);
      expect(one.queries).toBe(1);
      expect(hundred.queries).toBe(one.queries);
    });

    it('uses the same number of statements for a product’s reviews at any page size', async () => {
      const product = await created(feed);
      for (let i = 0; i < 12; i++) {
        const { headers } = await customer(feed, `Many ${i}`);
        await review(headers, product.id, good);
      }
      const one = await countQueries(() => productReviews(feed.anonymous, product.id, { pageSize: '1' }));
      const hundred = await countQueries(() =>
        productReviews(feed.anonymous, product.id, { pageSize: '100' }),
      );
      expect(hundred.result.json.items).toHaveLength(12);
      expect(one.queries).toBe(2); // the product's existence, then the page
      expect(hundred.queries).toBe(one.queries);
    });

    it('leaves out reviews of archived products', async () => {
      const first = await recentReviews(feed.anonymous, { pageSize: '1' });
      const newest = first.json.items[0];
      await archive(feed, newest.product.id);
      const after = await recentReviews(feed.anonymous, { pageSize: '100' });
      expect(after.json.items.map((r: { id: string }) => r.id)).not.toContain(newest.id);
      expect(after.json.items.length).toBeGreaterThan(0);
    });
  });
});

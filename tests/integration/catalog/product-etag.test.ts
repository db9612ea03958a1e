import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { closeRedis } from '../../../shared/cache/redis.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { countQueries } from '../../../shared/db/query-counter.js';
import { closeTestPool, testPool } from '../../fixtures/sample_data.js';
import { created, createShop, detail, patch, setStock, type Shop } from './helpers.js';

/** Issue #21: products carry a version as their ETag, and PATCH honours If-Match. */
describe('catalog: product ETag and If-Match', () => {
  let shop: Shop;

  beforeAll(async () => {
    shop = await createShop('ETag shop');
  });
  afterAll(async () => {
    await closeOrms();
    await closeRedis();
    await closeTestPool();
  });

  const withIfMatch = (tag: string): Record<string, string> => ({ ...shop.adminHeaders, 'if-match': tag });

  async function stored(id: string): Promise<{ name: string; version: number }> {
    const { rows } = await testPool().query('select name, version from products where id = $1', [id]);
    return rows[0];
  }

  describe('reads', () => {
    it('the detail carries its version as ETag, uncached and served as stored from the cache alike', async () => {
      const product = await created(shop, { name: 'Tagged' });
      expect(product.version).toBe(1);
      const miss = await detail(shop.anonymous, product.id);
      expect(miss.status).toBe(200);
      expect(miss.headers.get('etag')).toBe('"v1"');
      expect(miss.json.version).toBe(1);

      // A hit: no statement at all, and still the right ETag (read off the stored text).
      const hit = await countQueries(() => detail(shop.anonymous, product.id));
      expect(hit.queries).toBe(0);
      expect(hit.result.text).toBe(miss.text);
      expect(hit.result.headers.get('etag')).toBe('"v1"');

      // After an update: the new version on the next miss and on the hit after it.
      expect((await patch(shop, product.id, { name: 'Tagged again' })).status).toBe(200);
      const fresh = await detail(shop.anonymous, product.id);
      expect(fresh.json).toMatchObject({ name: 'Tagged again', version: 2 });
      expect(fresh.headers.get('etag')).toBe('"v2"');
      const hitAgain = await countQueries(() => detail(shop.anonymous, product.id));
      expect(hitAgain.queries).toBe(0);
      expect(hitAgain.result.headers.get('etag')).toBe('"v2"');
    });

    it('the create answer carries the ETag too', async () => {
      const res = await created(shop);
      const again = await detail(shop.anonymous, res.id);
      expect(again.headers.get('etag')).toBe(`"v${res.version}"`);
    });

    it('stock changes do not change the version (an edit form stays valid during sales)', async () => {
      const product = await created(shop, { stock: 5 });
      expect((await setStock(shop, product.id, { quantity: 9 })).status).toBe(200);
      const read = await detail(shop.anonymous, product.id);
      expect(read.json).toMatchObject({ available: 9, version: 1 });
      expect(read.headers.get('etag')).toBe('"v1"');
      expect((await patch(shop, product.id, { name: 'Still v1' }, withIfMatch('"v1"'))).status).toBe(200);
    });
  });

  describe('PATCH with If-Match', () => {
    it('a matching ETag applies the change and answers with the new ETag', async () => {
      const product = await created(shop, { name: 'Before' });
      const read = await detail(shop.anonymous, product.id);
      const res = await patch(shop, product.id, { name: 'After' }, withIfMatch(read.headers.get('etag')!));
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ name: 'After', version: 2 });
      expect(res.headers.get('etag')).toBe('"v2"');
      expect(await stored(product.id)).toEqual({ name: 'After', version: 2 });
    });

    it('a stale ETag is a 412 problem that says the product changed, and changes nothing', async () => {
      const product = await created(shop, { name: 'Original' });
      const first = await patch(shop, product.id, { name: 'Someone else' }, withIfMatch('"v1"'));
      expect(first.status).toBe(200);
      const stale = await patch(shop, product.id, { name: 'Mine', priceCents: 1 }, withIfMatch('"v1"'));
      expect(stale.status).toBe(412);
      expect(stale.headers.get('content-type')).toBe('application/problem+json');
      expect(stale.json).toMatchObject({ status: 412, title: 'Precondition failed' });
      expect(stale.json.detail).toMatch(/product has changed/);
      expect(await stored(product.id)).toEqual({ name: 'Someone else', version: 2 });
      // …and the cache still shows the committed version.
      expect((await detail(shop.anonymous, product.id)).json).toMatchObject({
        name: 'Someone else',
        priceCents: 1000,
        version: 2,
      });
    });

    it.each([
      ['a weak tag of the current version', 'W/"v1"'],
      ['a tag of another format', '"abc"'],
      ['a version beyond int4', '"v99999999999"'],
    ])('%s never matches (strong comparison): 412', async (_label, tag) => {
      const product = await created(shop);
      expect((await patch(shop, product.id, { name: 'Nope' }, withIfMatch(tag))).status).toBe(412);
      expect(await stored(product.id)).toEqual({ name: 'Plain product', version: 1 });
    });

    it('`*`, a list that holds the current tag, and no If-Match all apply', async () => {
      const product = await created(shop);
      expect((await patch(shop, product.id, { name: 'Star' }, withIfMatch('*'))).status).toBe(200);
      expect((await patch(shop, product.id, { name: 'List' }, withIfMatch('"v1", "v2"'))).status).toBe(200);
      const plain = await patch(shop, product.id, { name: 'Plain' });
      expect(plain.status).toBe(200);
      expect(plain.headers.get('etag')).toBe('"v4"');
      expect(await stored(product.id)).toEqual({ name: 'Plain', version: 4 });
    });

    it.each([
      ['v1 without quotes', 'v1'],
      ['an empty list', ' , '],
      ['junk after a tag', '"v1" x'],
    ])('a malformed If-Match (%s) is a 400 and changes nothing', async (_label, tag) => {
      const product = await created(shop);
      const res = await patch(shop, product.id, { name: 'Malformed' }, withIfMatch(tag));
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.json.errors).toEqual([{ field: 'header.If-Match', message: expect.any(String) }]);
      expect(await stored(product.id)).toEqual({ name: 'Plain product', version: 1 });
    });

    it('a missing product is a 404 whatever the If-Match', async () => {
      expect((await patch(shop, randomUUID(), { name: 'Ghost' }, withIfMatch('"v1"'))).status).toBe(404);
      expect((await patch(shop, randomUUID(), { name: 'Ghost' }, withIfMatch('*'))).status).toBe(404);
    });

    it('two truly concurrent PATCHes with the same ETag: exactly one wins, the other is a 412', async () => {
      const product = await created(shop, { name: 'Contended' });
      // Hold the row lock so both requests are inside their UPDATE before either can go on: a
      // read-then-write check would pass for both here, the conditional UPDATE for one only.
      const blocker = await testPool().connect();
      try {
        await blocker.query('begin');
        await blocker.query('select id from products where id = $1 for update', [product.id]);
        const racing = Promise.all(
          ['Alice', 'Bob'].map((name) => patch(shop, product.id, { name }, withIfMatch('"v1"'))),
        );
        await waitForLockWaiters(2, product.id);
        await blocker.query('commit');
        const results = await racing;
        expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
        const winner = results.find((r) => r.status === 200)!;
        expect(winner.headers.get('etag')).toBe('"v2"');
        expect(await stored(product.id)).toEqual({ name: winner.json.name, version: 2 });
      } finally {
        await blocker.query('rollback').catch(() => undefined);
        blocker.release();
      }
    });
  });
});

/** Waits until `n` sessions of this database wait for a lock in an UPDATE of this product. */
async function waitForLockWaiters(n: number, productId: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const { rows } = await testPool().query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'
          and query ilike '%update products%' and query like $1`,
      [`%${productId}%`],
    );
    if (rows[0]!.n >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`fewer than ${n} PATCHes reached the row lock`);
}

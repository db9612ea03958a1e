import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeRedis } from '../../../shared/cache/redis.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { countQueries } from '../../../shared/db/query-counter.js';
import { closeReadPool, getReadPool, readTenantRows } from '../../../shared/db/read-pool.js';
import { SEARCH_WINDOW } from '../../../shared/services/catalog/search-statement.js';
import { closeTestPool } from '../../fixtures/sample_data.js';
import { archive, created, createShop, insertProducts, patch, search, walk, type Shop } from './helpers.js';

describe('catalog: search', () => {
  let shop: Shop;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    shop = await createShop('Search shop');
    const products = {
      kettleName: { name: 'Gooseneck kettle', description: 'Pour-over made easy.' },
      kettleDescription: { name: 'Pour-over stand', description: 'Pairs well with any kettle on the stove.' },
      greenTea: { name: 'Loose leaf green tea', description: 'Sencha from Shizuoka.' },
      mug: { name: 'Stoneware mug', description: 'Keeps coffee warm; glazed by hand.' },
      mugs: { name: 'Espresso cups', description: 'Two small mugs for espresso.' },
    };
    for (const [key, input] of Object.entries(products)) ids[key] = (await created(shop, input)).id;
  });
  afterAll(async () => {
    await closeOrms();
    await closeReadPool();
    await closeRedis();
    await closeTestPool();
  });

  const names = (res: { json: { items: { name: string }[] } }): string[] => res.json.items.map((p) => p.name);

  it('ranks a name match above a description match', async () => {
    const res = await search(shop.anonymous, { q: 'kettle' });
    expect(res.status).toBe(200);
    expect(names(res)).toEqual(['Gooseneck kettle', 'Pour-over stand']);
    expect(res.json.items[0].rank).toBeGreaterThan(res.json.items[1].rank);
    expect(res.json.items[0]).toMatchObject({ id: ids.kettleName, priceCents: 1000, currency: 'USD' });
  });

  it('understands web-search syntax: phrases, or, exclusion; stems words', async () => {
    expect(names(await search(shop.anonymous, { q: '"green tea"' }))).toEqual(['Loose leaf green tea']);
    expect(names(await search(shop.anonymous, { q: '"tea green"' }))).toEqual([]);
    expect(new Set(names(await search(shop.anonymous, { q: 'kettle or sencha' })))).toEqual(
      new Set(['Gooseneck kettle', 'Pour-over stand', 'Loose leaf green tea']),
    );
    expect(names(await search(shop.anonymous, { q: 'kettle -stove' }))).toEqual(['Gooseneck kettle']);
    // Punctuation is no syntax: a question mark (a bind placeholder to some drivers) is just text.
    expect(names(await search(shop.anonymous, { q: 'kettle?' }))).toEqual([
      'Gooseneck kettle',
      'Pour-over stand',
    ]);
    // "mugs" and "mug" share a stem.
    expect(new Set(names(await search(shop.anonymous, { q: 'mugs' })))).toEqual(
      new Set(['Stoneware mug', 'Espresso cups']),
    );
  });

  it('matches the last word as a prefix in type-ahead mode only', async () => {
    expect(names(await search(shop.anonymous, { q: 'goosen' }))).toEqual([]);
    expect(names(await search(shop.anonymous, { q: 'goosen', prefix: 'true' }))).toEqual([
      'Gooseneck kettle',
    ]);
    expect(names(await search(shop.anonymous, { q: 'loose leaf gre', prefix: 'true' }))).toEqual([
      'Loose leaf green tea',
    ]);
    expect(names(await search(shop.anonymous, { q: 'espresso or shizu', prefix: 'true' })).sort()).toEqual([
      'Espresso cups',
      'Loose leaf green tea',
    ]);
    // Inside an open quote, or a one-letter last word: no prefix, no error.
    expect((await search(shop.anonymous, { q: '"green te', prefix: 'true' })).status).toBe(200);
    expect((await search(shop.anonymous, { q: 'kettle g', prefix: 'true' })).status).toBe(200);
    expect((await search(shop.anonymous, { q: 'kettle', prefix: 'maybe' })).status).toBe(400);
  });

  it.each([
    'the',
    'the and of',
    '!!!',
    '&|!():*<->',
    "'",
    '"',
    '-',
    'or',
    '\\',
    '%_',
    "'; drop table products; --",
    '🙂',
    'a'.repeat(200),
  ])('answers garbage or stop-word query %j with an empty page, never a 500', async (q) => {
    for (const prefix of ['false', 'true']) {
      const res = await search(shop.anonymous, { q, prefix });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ items: [], nextCursor: null });
    }
  });

  it.each([[''], ['   '], ['x'.repeat(201)], ['tea\u0000'], ['tea\nkettle']])(
    'answers %j with 400',
    async (q) => {
      const res = await search(shop.anonymous, { q });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    },
  );

  it('finds a product the moment its write commits, and loses it when archived or renamed', async () => {
    const word = 'zephyrkettle';
    expect(names(await search(shop.anonymous, { q: word }))).toEqual([]);
    const product = await created(shop, { name: `Brand new ${word}` });
    expect(names(await search(shop.anonymous, { q: word }))).toEqual([`Brand new ${word}`]);
    await patch(shop, product.id, { name: 'Renamed' });
    expect(names(await search(shop.anonymous, { q: word }))).toEqual([]);
    await patch(shop, product.id, { description: `now in the ${word} description` });
    expect(names(await search(shop.anonymous, { q: word }))).toEqual(['Renamed']);
    await archive(shop, product.id);
    expect(names(await search(shop.anonymous, { q: word }))).toEqual([]);
  });

  it('never finds another tenant’s products', async () => {
    const other = await createShop('Other search shop');
    await created(other, { name: 'Gooseneck kettle deluxe' });
    expect(names(await search(shop.anonymous, { q: 'deluxe' }))).toEqual([]);
    expect(names(await search(other.anonymous, { q: 'kettle' }))).toEqual(['Gooseneck kettle deluxe']);
  });

  describe('pages over many windows', () => {
    let big: Shop;
    const total = 2 * SEARCH_WINDOW + 57;

    beforeAll(async () => {
      big = await createShop('Big search shop');
      const base = Date.now() - 10 * 86_400_000;
      // Every product matches "lantern"; some in the name (rank higher), some twice in the description.
      await insertProducts(
        big.tenantId,
        Array.from({ length: total }, (_, i) => ({
          name: i % 7 === 0 ? `Lantern ${i}` : `Lamp ${i}`,
          description: i % 3 === 0 ? 'A lantern, the best lantern.' : 'Like a lantern.',
          createdAt: new Date(base + Math.floor(i / 2) * 1000), // pairs share a timestamp
        })),
      );
    });

    it('returns every match exactly once, ranked within each window', async () => {
      for (const pageSize of ['100', '7']) {
        const pages = await walk((q) => search(big.anonymous, q), { q: 'lantern', pageSize });
        const items = pages.flat();
        expect(items).toHaveLength(total);
        expect(new Set(items.map((p) => p.id)).size).toBe(total);
        // The first window: the SEARCH_WINDOW newest matches, best first.
        const first = items.slice(0, SEARCH_WINDOW);
        const ranks = first.map((p) => p.rank);
        expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
        const newest = [...items].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
        const cut = Date.parse(newest[SEARCH_WINDOW - 1].createdAt);
        expect(first.every((p) => Date.parse(p.createdAt) >= cut)).toBe(true);
        expect(first[0].name).toMatch(/^Lantern/);
      }
    });

    it('stays stable when matching products are added between pages', async () => {
      const seen: string[] = [];
      const before = new Set(
        (await walk((q) => search(big.anonymous, q), { q: 'lantern', pageSize: '50' }))
          .flat()
          .map((p) => p.id),
      );
      const pages = await walk(
        (q) => search(big.anonymous, q),
        { q: 'lantern', pageSize: '50' },
        async (page) => {
          // A new, best-ranked match arrives after every page.
          await created(big, { name: `Lantern lantern newcomer ${page}`, description: 'lantern' });
        },
      );
      for (const item of pages.flat()) seen.push(item.id);
      expect(new Set(seen).size).toBe(seen.length); // no duplicates
      expect(seen.filter((id) => before.has(id))).toHaveLength(before.size); // nothing skipped
    });

    it('refuses a cursor of another query', async () => {
      const first = await search(big.anonymous, { q: 'lantern', pageSize: '5' });
      const res = await search(big.anonymous, { q: 'lamp', cursor: first.json.nextCursor });
      expect(res.status).toBe(400);
      const forged = Buffer.from(JSON.stringify({ h: 'x', t: 1 })).toString('base64url');
      expect((await search(big.anonymous, { q: 'lantern', cursor: forged })).status).toBe(400);
    });

    it('answers a page in one statement (two when it spans windows)', async () => {
      await search(big.anonymous, { q: 'lamp' });
      const one = await countQueries(() => search(big.anonymous, { q: 'lantern', pageSize: '100' }));
      expect(one.queries).toBe(1);
      const single = await countQueries(() => search(big.anonymous, { q: 'lantern', pageSize: '1' }));
      expect(single.queries).toBe(1);
    });
  });

  describe('read pool', () => {
    it('plans every run of the prepared search for its own values, never generically', async () => {
      // Rare and common terms share one prepared statement; one generic plan for both turns a common
      // term's 2 ms into seconds at 1M products. Sequential calls reuse the pool's most recent client.
      for (const q of ['kettle', 'tea', 'mug', 'stove', 'sencha', 'espresso', 'kettle']) {
        expect((await search(shop.anonymous, { q })).status).toBe(200);
      }
      const client = await getReadPool().connect();
      try {
        const { rows } = await client.query<{ generic: number; custom: number; mode: string }>(
          `select coalesce(sum(generic_plans), 0)::int as generic, coalesce(sum(custom_plans), 0)::int as custom,
                  current_setting('plan_cache_mode') as mode
             from pg_prepared_statements where not from_sql`,
        );
        expect(rows[0]).toEqual({ generic: 0, custom: expect.any(Number), mode: 'force_custom_plan' });
        expect(rows[0]!.custom).toBeGreaterThanOrEqual(7);
      } finally {
        client.release();
      }
    });

    it('refuses a statement that is not scoped to the tenant as $1', async () => {
      await expect(
        readTenantRows(shop.tenantId, { text: 'select id from products', values: [shop.tenantId] }),
      ).rejects.toThrow(/scoped to the tenant/);
      await expect(
        readTenantRows(shop.tenantId, {
          text: 'select id from products where tenant_id = $1',
          values: ['0b0b0b0b-0000-4000-8000-000000000000'],
        }),
      ).rejects.toThrow(/scoped to the tenant/);
    });
  });
});

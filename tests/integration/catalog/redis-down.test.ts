import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { health } from '../../../functions/health.js';
import { resetSettingsForTests } from '../../../shared/config/index.js';
import { closeRedis } from '../../../shared/cache/redis.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { countQueries } from '../../../shared/db/query-counter.js';
import { catalogCache } from '../../../shared/services/catalog/catalog-cache.js';
import { closeTestPool } from '../../fixtures/sample_data.js';
import { invoke } from '../../support/http.js';
import { created, createShop, detail, list, patch, search, setStock, type Shop } from './helpers.js';

/**
 * The whole read path with Redis unreachable: the app's own client is pointed at a port where nothing
 * listens (this file runs in its own worker process, so the change stays here).
 */
describe('catalog with Redis down', () => {
  let shop: Shop;
  let product: { id: string };
  const realRedis = process.env.REDIS_URL!;

  async function pointRedisAt(url: string): Promise<void> {
    process.env.REDIS_URL = url;
    resetSettingsForTests();
    await closeRedis();
  }

  beforeAll(async () => {
    shop = await createShop('Outage shop');
    product = await created(shop, { name: 'Lamp', priceCents: 2500, stock: 7 });
    expect((await detail(shop.anonymous, product.id)).json.name).toBe('Lamp'); // cached while Redis is up
    await pointRedisAt('redis://127.0.0.1:1');
  });
  afterAll(async () => {
    await pointRedisAt(realRedis);
    await closeOrms();
    await closeRedis();
    await closeTestPool();
  });

  it('reports degraded health while still serving reads from PostgreSQL', async () => {
    const res = await invoke(health, { url: 'http://localhost/api/health' });
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('degraded');
    expect(res.json.checks.redis.status).toBe('down');
  });

  it('serves detail, lists and search with correct data', async () => {
    const started = Date.now();
    const res = await detail(shop.anonymous, product.id);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: product.id, name: 'Lamp', priceCents: 2500, available: 7 });
    expect((await list(shop.anonymous)).json.items.map((p: { name: string }) => p.name)).toEqual(['Lamp']);
    expect((await search(shop.anonymous, { q: 'lamp' })).json.items).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2_000); // no per-request Redis timeouts
    // Every read goes to the database (nothing is cached).
    const { queries } = await countQueries(() => detail(shop.anonymous, product.id));
    expect(queries).toBe(1);
  });

  it('keeps writes working and shows them on the next read', async () => {
    expect((await patch(shop, product.id, { name: 'Lamp v2' })).status).toBe(200);
    expect((await setStock(shop, product.id, { quantity: 3 })).status).toBe(200);
    expect((await detail(shop.anonymous, product.id)).json).toMatchObject({ name: 'Lamp v2', available: 3 });
  });

  it('does not serve what was cached before the outage once Redis is back', async () => {
    // The writes above could not bump their generations; Redis still holds the pre-outage detail. The
    // instance delivers its pending invalidations before it reads from Redis again.
    expect(catalogCache().pendingInvalidations).toBeGreaterThan(0);
    await pointRedisAt(realRedis);
    const res = await detail(shop.anonymous, product.id);
    expect(catalogCache().pendingInvalidations).toBe(0);
    expect(res.json).toMatchObject({ name: 'Lamp v2', available: 3 });
    const again = await countQueries(() => detail(shop.anonymous, product.id));
    expect(again.queries).toBe(0); // cached again
  });

  it('serves new products created during the outage', async () => {
    await pointRedisAt('redis://127.0.0.1:1');
    const fresh = await created(shop, { name: 'Made during outage' });
    expect((await detail(shop.anonymous, fresh.id)).json.name).toBe('Made during outage');
  });
});

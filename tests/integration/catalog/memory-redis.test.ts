import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetSettingsForTests } from '../../../shared/config/index.js';
import { closeRedis } from '../../../shared/cache/redis.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { countQueries } from '../../../shared/db/query-counter.js';
import { closeTestPool } from '../../fixtures/sample_data.js';
import { created, createShop, detail, patch, type Shop } from './helpers.js';

/** The local host's in-memory Redis stand-in (`memory://`, ioredis-mock) behind the catalog cache. */
describe('catalog cache on the in-memory Redis stand-in', () => {
  let shop: Shop;
  const realRedis = process.env.REDIS_URL!;

  beforeAll(async () => {
    process.env.REDIS_URL = 'memory://';
    resetSettingsForTests();
    await closeRedis();
    shop = await createShop('Memory shop');
  });
  afterAll(async () => {
    process.env.REDIS_URL = realRedis;
    resetSettingsForTests();
    await closeOrms();
    await closeRedis();
    await closeTestPool();
  });

  it('caches details and invalidates them on writes', async () => {
    const product = await created(shop, { name: 'In memory' });
    expect((await detail(shop.anonymous, product.id)).json.name).toBe('In memory');
    const cached = await countQueries(() => detail(shop.anonymous, product.id));
    expect(cached.result.json.name).toBe('In memory');
    expect(cached.queries).toBe(0);
    await patch(shop, product.id, { name: 'Still in memory' });
    expect((await detail(shop.anonymous, product.id)).json.name).toBe('Still in memory');
  });
});

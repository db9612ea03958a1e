import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { GenerationalCache } from '../../../shared/cache/cache.js';
import { whenReady } from '../../../shared/cache/redis.js';

/**
 * The read-through cache against the run's real Redis (and a dead port for the outage path).
 */
const prefix = `${process.env.REDIS_KEY_PREFIX}cache-test:`;

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('GenerationalCache', () => {
  let redis: Redis;
  let other: Redis;
  let dead: Redis;

  beforeAll(async () => {
    redis = new Redis(process.env.REDIS_URL!, { keyPrefix: prefix, enableOfflineQueue: false });
    other = new Redis(process.env.REDIS_URL!, { keyPrefix: prefix, enableOfflineQueue: false });
    // Nothing listens on port 1: every command fails at once, like the app's client during an outage.
    dead = new Redis('redis://127.0.0.1:1', {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 1_000,
    });
    dead.on('error', () => undefined);
    await Promise.all([whenReady(redis, 5_000), whenReady(other, 5_000)]);
  });
  afterAll(() => {
    redis.disconnect();
    other.disconnect();
    dead.disconnect();
  });

  it('serves a hit until a generation is bumped', async () => {
    const cache = new GenerationalCache(() => redis);
    const key = `k:${randomUUID()}`;
    const gens = [`g:${randomUUID()}`, `g:${randomUUID()}`];
    let loads = 0;
    const load = async () => ({ n: ++loads });
    expect(await cache.read(key, gens, load)).toEqual({ value: { n: 1 }, outcome: 'miss' });
    expect(await cache.read(key, gens, load)).toEqual({ value: { n: 1 }, outcome: 'hit' });
    expect(await cache.bump([gens[1]!])).toBe(true);
    expect(await cache.read(key, gens, load)).toEqual({ value: { n: 2 }, outcome: 'miss' });
    expect(await cache.read(key, gens, load)).toEqual({ value: { n: 2 }, outcome: 'hit' });
    expect(await redis.ttl(key)).toBeGreaterThan(290);
    expect(await redis.ttl(gens[1]!)).toBeGreaterThan(300);
  });

  it('caches null (absence) like any value', async () => {
    const cache = new GenerationalCache(() => redis);
    let loads = 0;
    const load = async () => {
      loads++;
      return null;
    };
    const key = `k:${randomUUID()}`;
    await cache.read(key, ['g:none'], load);
    expect(await cache.read(key, ['g:none'], load)).toEqual({ value: null, outcome: 'hit' });
    expect(loads).toBe(1);
  });

  it('hands values over as JSON text: a hit exactly as stored, a miss as the loader’s value serialised', async () => {
    const cache = new GenerationalCache(() => redis);
    const key = `k:${randomUUID()}`;
    const gens = [`g:${randomUUID()}`, `g:${randomUUID()}`];
    let loads = 0;
    const load = async () => ({ n: ++loads, text: 'é "quoted" \u2028 \ud800' });
    const miss = await cache.readJson(key, gens, load);
    expect(miss).toEqual({
      value: JSON.stringify({ n: 1, text: 'é "quoted" \u2028 \ud800' }),
      outcome: 'miss',
    });
    expect(await cache.readJson(key, gens, load)).toEqual({ value: miss.value, outcome: 'hit' });
    // Both forms read the same entry.
    expect(await cache.read(key, gens, load)).toEqual({ value: JSON.parse(miss.value), outcome: 'hit' });
    expect(await cache.bump([gens[0]!])).toBe(true);
    expect(await cache.readJson(key, gens, load)).toEqual({
      value: JSON.stringify({ n: 2, text: 'é "quoted" \u2028 \ud800' }),
      outcome: 'miss',
    });
    expect(loads).toBe(2);
    // Absence is the text `null`, cached like any value.
    const absent = `k:${randomUUID()}`;
    expect(await cache.readJson(absent, gens, async () => null)).toEqual({ value: 'null', outcome: 'miss' });
    expect(await cache.readJson(absent, gens, async () => 'unused')).toEqual({
      value: 'null',
      outcome: 'hit',
    });
    // Without Redis the loader's value is serialised the same way.
    expect(await new GenerationalCache(() => dead).readJson('k', ['g'], async () => ({ a: 1 }))).toEqual({
      value: '{"a":1}',
      outcome: 'bypass',
    });
  });

  it('treats a stored value that does not parse as a miss, and replaces it', async () => {
    const cache = new GenerationalCache(() => redis);
    const key = `k:${randomUUID()}`;
    const gen = `g:${randomUUID()}`;
    await redis.set(key, '0\n{not json', 'EX', 60);
    expect(await cache.read(key, [gen], async () => 'loaded')).toEqual({ value: 'loaded', outcome: 'miss' });
    expect(await cache.read(key, [gen], async () => 'unused')).toEqual({ value: 'loaded', outcome: 'hit' });
  });

  it('loads once for many concurrent misses in one process', async () => {
    const cache = new GenerationalCache(() => redis);
    const key = `k:${randomUUID()}`;
    let loads = 0;
    const gate = deferred<void>();
    const load = async () => {
      loads++;
      await gate.promise;
      return 'value';
    };
    const reads = Array.from({ length: 25 }, () => cache.read(key, ['g:x'], load));
    setTimeout(() => gate.resolve(), 30);
    const results = await Promise.all(reads);
    expect(loads).toBe(1);
    expect(results.every((r) => r.value === 'value')).toBe(true);
    expect(results.filter((r) => r.outcome === 'miss')).toHaveLength(1);
  });

  it('loads once across instances: the others wait for the lock holder’s value', async () => {
    const a = new GenerationalCache(() => redis);
    const b = new GenerationalCache(() => other);
    const key = `k:${randomUUID()}`;
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 80));
      return { loaded: true };
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).read(key, ['g:y'], load)),
    );
    expect(loads).toBe(1);
    expect(results.every((r) => (r.value as { loaded: boolean }).loaded)).toBe(true);
    expect(results.some((r) => r.outcome === 'waited')).toBe(true);
  });

  it('loads itself when the lock holder never delivers', async () => {
    const cache = new GenerationalCache(() => redis, { waitMs: 100 });
    const key = `k:${randomUUID()}`;
    // Another instance "holds" the lock and dies.
    await redis.set(`lock:${key}|0`, '1', 'PX', 5_000);
    const result = await cache.read(key, ['g:never-bumped-' + randomUUID()], async () => 'fallback');
    expect(result).toEqual({ value: 'fallback', outcome: 'miss' });
  });

  it('never lets a load that began before a write be served after it', async () => {
    const cache = new GenerationalCache(() => redis);
    const key = `k:${randomUUID()}`;
    const gens = [`g:${randomUUID()}`];
    let version = 'old';
    const slowLoadStarted = deferred<void>();
    const release = deferred<void>();
    // A reader reads the old row, then stalls before writing it to the cache…
    const slow = cache.read(key, gens, async () => {
      const seen = version;
      slowLoadStarted.resolve();
      await release.promise;
      return seen;
    });
    await slowLoadStarted.promise;
    // …meanwhile the write commits and invalidates.
    version = 'new';
    await cache.bump(gens);
    // A reader after the write neither joins the stale load nor gets its value.
    const fresh = await cache.read(key, gens, async () => version);
    expect(fresh.value).toBe('new');
    release.resolve();
    expect((await slow).value).toBe('old');
    // The stale value was stored under the old generation: nobody sees it.
    expect((await cache.read(key, gens, async () => version)).value).toBe('new');
  });

  it('reads from the loader when Redis is down, without waiting on it', async () => {
    const cache = new GenerationalCache(() => dead);
    let loads = 0;
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      const result = await cache.read('k', ['g'], async () => ++loads);
      expect(result.outcome).toBe('bypass');
    }
    expect(loads).toBe(5);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(await cache.bump(['g'])).toBe(false);
  });

  it('delivers invalidations lost in an outage before it reads from Redis again', async () => {
    let current = dead;
    const cache = new GenerationalCache(() => current);
    const key = `k:${randomUUID()}`;
    const gens = [`g:${randomUUID()}`];
    await new GenerationalCache(() => redis).read(key, gens, async () => 'before the write');
    // The write commits while this instance cannot reach Redis: the bump is kept, not lost.
    expect(await cache.bump(gens)).toBe(false);
    expect(cache.pendingInvalidations).toBe(1);
    current = redis;
    expect((await cache.read(key, gens, async () => 'after the write')).value).toBe('after the write');
    expect(cache.pendingInvalidations).toBe(0);
    // Other instances see the bump too.
    const elsewhere = await new GenerationalCache(() => other).read(key, gens, async () => 'reloaded');
    expect(elsewhere.value).not.toBe('before the write');
  });

  it('works with ioredis-mock (the local host’s stand-in)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const RedisMock = require('ioredis-mock') as new (o: object) => Redis;
    const mock = new RedisMock({ keyPrefix: 'mock:' });
    const a = new GenerationalCache(() => mock);
    const b = new GenerationalCache(() => mock);
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 40));
      return loads;
    };
    const results = await Promise.all([a, b, a, b].map((c) => c.read('k', ['g'], load)));
    expect(loads).toBe(1);
    expect(results.map((r) => r.value)).toEqual([1, 1, 1, 1]);
    await a.bump(['g']);
    expect((await b.read('k', ['g'], load)).value).toBe(2);
    expect((await a.read('k', ['g'], load)).outcome).toBe('hit');
  });
});

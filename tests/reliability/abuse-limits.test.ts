import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeStripe } from '../../infra/fake-stripe/server.js';
import { SAMPLE_ADDRESS } from '../fixtures/address.js';
import { createProduct, createTenant } from '../fixtures/sample_data.js';
import { TEST_REDIS_URL } from '../setup/test-env.js';
import { freePort } from '../support/azurite.js';
import { waitUntil } from '../support/faults.js';
import type { HostProcess } from '../support/host-process.js';
import type { OwnDatabases } from './support/databases.js';
import { burst } from './support/load.js';
import { expectSettledInvariants, spawnHostOn, startOwnStack, stopOwnStack } from './support/own-host.js';
import { shopThrough, shopperWithCart, stockOf, type Shop } from './support/shop.js';

/**
 * Issue 19, items 2–5, black-box through the compiled host (`npm run build` first): registration
 * floods, forged cursors, a cache flood under memory pressure that must not reset login limits, and
 * stock hoarding with abandoned 3-D Secure checkouts. Figures are printed as `[abuse] …` lines.
 *
 * The host's cache is a redis-server of this file's own with 2 MB and volatile-lru (Azure's cache
 * policy) so pressure really evicts; its rate-limit counters go to the shared test Redis (noeviction),
 * as RATE_LIMIT_REDIS_URL does in Azure (ADR 0021).
 */
const PAYMENT_TIMEOUT_SECONDS = 4;
let dbs: OwnDatabases;
let host: HostProcess;
let fake: FakeStripe;
let cacheServer: ChildProcess;
let cacheUrl: string;
let pool: pg.Pool;
let shop: Shop;
let tenantId: string;

const ip = (): string =>
  `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;

async function post(path: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  return fetch(`${host.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant-id': tenantId, ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${host.baseUrl}${path}`, {
    headers: { 'x-tenant-id': tenantId, ...headers },
    signal: AbortSignal.timeout(20_000),
  });
}

async function startCacheRedis(): Promise<void> {
  const port = await freePort();
  cacheServer = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory',
      '2mb',
      '--maxmemory-policy',
      'volatile-lru',
    ],
    { stdio: 'ignore' },
  );
  cacheUrl = `redis://127.0.0.1:${port}`;
  const probe = new Redis(cacheUrl, { lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  await waitUntil(
    'the cache redis-server',
    async () => ((await probe.ping().catch(() => '')) === 'PONG' ? true : undefined),
    {
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  );
  probe.disconnect();
}

beforeAll(async () => {
  ({ dbs, pool, fake } = await startOwnStack('abuse', 3));
  await startCacheRedis();
  host = await spawnHostOn(
    { dbs, fake },
    {
      REDIS_URL: cacheUrl,
      RATE_LIMIT_REDIS_URL: TEST_REDIS_URL,
      CHECKOUT_PAYMENT_TIMEOUT_SECONDS: String(PAYMENT_TIMEOUT_SECONDS),
      // Far beyond the payment window: only the orchestration's own timer can end these reservations.
      RESERVATION_TTL_SECONDS: '3600',
      TRUSTED_PROXY_HOPS: '1',
      LOG_LEVEL: 'warn',
    },
  );
  tenantId = (await createTenant('Abuse shop')).id;
  shop = shopThrough(tenantId, pool, () => host);
}, 120_000);

afterAll(
  () => stopOwnStack({ host, fake, pool, dbs }, async () => void cacheServer?.kill('SIGKILL')),
  60_000,
);

describe('abuse: limits', () => {
  it('registration flood from one address: 5 accounts, then 429 + Retry-After', async () => {
    const from = ip();
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const res = await post(
        '/auth/register',
        {
          email: `flood-${randomUUID().slice(0, 8)}@example.test`,
          password: 'correct horse battery staple',
          name: 'F',
        },
        { 'x-forwarded-for': from },
      );
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    console.log(`[abuse] registrations from one address: ${statuses.join(',')}`);
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });

  it('forged, tampered and foreign cursors are 400s', async () => {
    for (let i = 0; i < 3; i++)
      await createProduct(tenantId, { name: `Mug ${i}`, description: 'coffee mug' });
    const page = (await (await get('/products?pageSize=1')).json()) as { nextCursor: string };
    const [payload, kid, mac] = page.nextCursor.split('.') as [string, string, string];
    expect((await get(`/products?pageSize=1&cursor=${page.nextCursor}`)).status).toBe(200);
    const flipped = `${payload.slice(0, -2)}${payload.at(-2) === 'A' ? 'B' : 'A'}${payload.at(-1)}`;
    const search = (await (await get('/products/search?q=mug&pageSize=1')).json()) as { nextCursor: string };
    const unboundedWindow = Buffer.from(
      JSON.stringify({
        h: 'AAAAAAAA',
        t: ['2026-01-01T00:00:00.000000Z', randomUUID()],
        b: null,
        r: 0,
        i: randomUUID(),
      }),
    ).toString('base64url');
    const otherTenant = (await createTenant('Other abuse shop')).id;
    const answers = {
      tampered: (await get(`/products?pageSize=1&cursor=${flipped}.${kid}.${mac}`)).status,
      unsignedSearchWindow: (await get(`/products/search?q=mug&pageSize=1&cursor=${unboundedWindow}`)).status,
      otherSort: (await get(`/products?pageSize=1&sort=price_asc&cursor=${page.nextCursor}`)).status,
      otherQuery: (await get(`/products/search?q=lamp&pageSize=1&cursor=${search.nextCursor}`)).status,
      otherTenant: (
        await get(`/products?pageSize=1&cursor=${page.nextCursor}`, { 'x-tenant-id': otherTenant })
      ).status,
    };
    console.log(`[abuse] cursors: ${JSON.stringify(answers)}`);
    expect(Object.values(answers)).toEqual([400, 400, 400, 400, 400]);
  });

  it('a cache flood under memory pressure neither grows list keys nor resets a login limit', async () => {
    const cache = new Redis(cacheUrl);
    try {
      const from = ip();
      const login = async (): Promise<number> =>
        (
          await post(
            '/auth/login',
            { email: 'nobody@example.test', password: 'wrong password!!' },
            { 'x-forwarded-for': from },
          )
        ).status;
      for (let i = 0; i < 10; i++) expect(await login()).toBe(401);
      const keysBefore = await cache.dbsize();
      // Distinct filters and sizes: each used to be a cache entry of its own.
      const flood = await burst(
        1_500,
        10,
        async () =>
          (
            await get(
              `/products?minPrice=${Math.floor(Math.random() * 1e6)}&pageSize=${1 + Math.floor(Math.random() * 100)}`,
            )
          ).status,
      );
      const listKeysAdded = (await cache.dbsize()) - keysBefore;
      // Then memory pressure, as any other tenant's busy catalog would make it: volatile keys go.
      const filler = 'x'.repeat(4_096);
      for (let i = 0; i < 1_000; i++)
        await cache.set(`${process.env.REDIS_KEY_PREFIX}filler:${i}`, filler, 'EX', 600);
      const evicted = Number(/evicted_keys:(\d+)/.exec(await cache.info('stats'))?.[1] ?? 0);
      const eleventh = await login();
      console.log(
        `[abuse] cache flood: ${JSON.stringify([...flood])} list requests added ${listKeysAdded} cache keys; ${evicted} keys evicted under pressure; 11th login → ${eleventh}`,
      );
      expect(flood.get(200)).toBe(1_500);
      expect(listKeysAdded).toBeLessThanOrEqual(10);
      expect(evicted).toBeGreaterThan(0);
      expect(eleventh).toBe(429);
    } finally {
      cache.disconnect();
    }
  }, 60_000);

  it('stock hoarding: at most 3 unpaid orders per customer, and abandoned 3-D Secure reservations end with the payment window', async () => {
    const product = await createProduct(tenantId, { name: 'Scarce lamp', stock: 100, priceCents: 2000 });
    const hoarder = await shopperWithCart(shop, [{ productId: product.id, quantity: 5 }]);
    const checkout = (): Promise<Response> =>
      post(
        '/checkout',
        { paymentMethodId: 'pm_card_threeDSecure2Required', shippingAddress: SAMPLE_ADDRESS },
        {
          authorization: `Bearer ${hoarder.token}`,
          'idempotency-key': randomUUID(),
        },
      );
    const answers: number[] = [];
    const orderIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await checkout();
      answers.push(res.status);
      const body = (await res.json()) as { orderId?: string; type?: string };
      if (body.orderId) orderIds.push(body.orderId);
      else expect(body.type).toMatch(/open-order-limit$/);
    }
    const held = await waitUntil(
      'the accepted orders to wait for 3-D Secure',
      async () => {
        const { rows } = await pool.query<{ n: number }>(
          `select count(*)::int as n from orders where id = any($1) and status = 'requires_action'`,
          [orderIds],
        );
        return rows[0]!.n === orderIds.length ? await stockOf(pool, product.id) : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const started = Date.now();
    const settled = await waitUntil(
      'the payment window to end every reservation',
      async () => {
        const { rows } = await pool.query<{ status: string; failure_reason: string | null }>(
          'select status, failure_reason from orders where id = any($1)',
          [orderIds],
        );
        return rows.every((r) => r.status === 'expired') ? rows : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const after = await stockOf(pool, product.id);
    console.log(
      `[abuse] hoarding: checkouts ${answers.join(',')}; held ${held.reserved}/100 units while waiting for 3-D Secure; ` +
        `all expired (payment_timeout) ${((Date.now() - started) / 1000).toFixed(1)} s after they reached requires_action (window ${PAYMENT_TIMEOUT_SECONDS} s); stock after ${JSON.stringify(after)}`,
    );
    expect(answers).toEqual([202, 202, 202, 409, 409]);
    expect(held.reserved).toBe(15);
    expect(settled.map((r) => r.failure_reason)).toEqual([
      'payment_timeout',
      'payment_timeout',
      'payment_timeout',
    ]);
    expect(after).toMatchObject({ available: 100, reserved: 0 });

    // The only orders of the file: abandoned, so nothing may be kept at Stripe and every unit is back;
    // the products of the earlier tests are in the stock check too.
    await expectSettledInvariants(shop, { dbs, fake });
  }, 90_000);
});

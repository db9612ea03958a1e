import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putItem } from './cart/helpers.js';
import { checkout } from '../../functions/checkout.js';
import { closeRedis, getRateLimitRedis } from '../../shared/cache/redis.js';
import { closeOrms } from '../../shared/db/orm.js';
import { countQueries } from '../../shared/db/query-counter.js';
import { closePasswordHasher } from '../../shared/services/auth/passwords.js';
import {
  CART_WRITE_RATE_LIMIT,
  CHECKOUT_RATE_LIMIT,
  REGISTER_IP_RATE_LIMIT,
  REGISTER_TENANT_RATE_LIMIT,
  REVIEW_RATE_LIMIT,
} from '../../shared/services/rate-limit/limits.js';
import type { RateLimitPolicy } from '../../shared/services/rate-limit/rate-limiter.js';
import { closeTestPool, testPool } from '../fixtures/sample_data.js';
import { invoke, type InvokeResult } from '../support/http.js';
import { freshIp, registerUser, uniqueEmail, STRONG_PASSWORD } from './auth/helpers.js';
import { register } from '../../functions/auth.js';
import { created, createShop, customer, review, type Shop } from './catalog/helpers.js';
import { fillCart } from './checkout/helpers.js';
import { SAMPLE_ADDRESS } from '../fixtures/address.js';

/**
 * The budgets of issue 19, through the real handlers and the real Redis. A budget's last attempts
 * are reached by writing its counter the way rate-limiter-flexible keeps it (`<prefix>:<key>`, an
 * integer with the window's TTL): 300 registrations of one shop would cost a minute of bcrypt.
 */
async function spend(policy: RateLimitPolicy, key: string, used: number): Promise<void> {
  await getRateLimitRedis().set(`${policy.keyPrefix}:${key}`, String(used), 'EX', policy.durationSeconds);
}

function expectLimited(res: InvokeResult, windowSeconds: number): void {
  expect(res.status, res.text).toBe(429);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(res.json.status).toBe(429);
}

const registerFrom = (tenantId: string, ip: string): Promise<InvokeResult> =>
  invoke(register, {
    method: 'POST',
    url: 'http://localhost/api/auth/register',
    headers: { 'x-tenant-id': tenantId, 'x-client-ip': ip },
    body: { email: uniqueEmail(), password: STRONG_PASSWORD, name: 'Flood' },
  });

describe('rate limits (issue 19)', () => {
  let shop: Shop;

  beforeAll(async () => {
    shop = await createShop('Rate limited shop');
  });
  afterAll(async () => {
    await closeOrms();
    await closeRedis();
    await closePasswordHasher();
    await closeTestPool();
  });

  it('registration: 5 per address per hour, then 429 + Retry-After and no account', async () => {
    const ip = freshIp();
    for (let i = 0; i < REGISTER_IP_RATE_LIMIT.points; i++)
      expect((await registerFrom(shop.tenantId, ip)).status).toBe(201);
    const refused = await registerFrom(shop.tenantId, ip);
    expectLimited(refused, REGISTER_IP_RATE_LIMIT.durationSeconds);
    const { rows } = await testPool().query('select count(*)::int as n from users where tenant_id = $1', [
      shop.tenantId,
    ]);
    expect(rows[0].n).toBe(REGISTER_IP_RATE_LIMIT.points + 1); // + the shop's admin
    expect((await registerFrom(shop.tenantId, freshIp())).status).toBe(201);
  });

  it('registration: a shop-wide budget that fresh addresses cannot get around', async () => {
    const other = await createShop('Botnet target');
    await spend(REGISTER_TENANT_RATE_LIMIT, other.tenantId, REGISTER_TENANT_RATE_LIMIT.points);
    expectLimited(await registerFrom(other.tenantId, freshIp()), REGISTER_TENANT_RATE_LIMIT.durationSeconds);
    // Another shop is unaffected.
    expect((await registerUser(shop.tenantId)).status).toBe(201);
  });

  it('reviews: per user', async () => {
    const { user, headers } = await customer(shop);
    const a = await created(shop, { name: 'A' });
    const b = await created(shop, { name: 'B' });
    await spend(REVIEW_RATE_LIMIT, user.id, REVIEW_RATE_LIMIT.points - 1);
    const body = { rating: 4, title: 'Fine', body: 'Does the job.' };
    expect((await review(headers, a.id, body)).status).toBe(201);
    expectLimited(await review(headers, b.id, body), REVIEW_RATE_LIMIT.durationSeconds);
    const { rows } = await testPool().query('select count(*)::int as n from reviews where product_id = $1', [
      b.id,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('cart writes: per user', async () => {
    const { user, headers } = await customer(shop);
    const product = await created(shop, { name: 'Cup', stock: 5 });
    await spend(CART_WRITE_RATE_LIMIT, user.id, CART_WRITE_RATE_LIMIT.points - 1);
    expect((await putItem(headers, product.id, 1)).status).toBe(200);
    const limited = await countQueries(() => putItem(headers, product.id, 2));
    expectLimited(limited.result, CART_WRITE_RATE_LIMIT.durationSeconds);
    expect(limited.queries).toBe(0);
    // Someone else's cart is unaffected.
    expect((await putItem((await customer(shop)).headers, product.id, 1)).status).toBe(200);
  });

  it('checkout: per user, refused before any order is written', async () => {
    const { user, headers } = await customer(shop);
    const product = await created(shop, { name: 'Pot', stock: 5 });
    await fillCart(shop.tenantId, user.id, [{ productId: product.id, quantity: 1 }]);
    await spend(CHECKOUT_RATE_LIMIT, user.id, CHECKOUT_RATE_LIMIT.points);
    const { result: res, queries } = await countQueries(() =>
      invoke(checkout, {
        method: 'POST',
        url: 'http://localhost/api/checkout',
        headers: { ...headers, 'idempotency-key': 'k-1' },
        body: { paymentMethodId: 'pm_card_visa', shippingAddress: SAMPLE_ADDRESS },
      }),
    );
    expectLimited(res, CHECKOUT_RATE_LIMIT.durationSeconds);
    // Refused before the unit of work: a flood over the budget takes no database connection.
    expect(queries).toBe(0);
    const { rows } = await testPool().query('select count(*)::int as n from orders where user_id = $1', [
      user.id,
    ]);
    expect(rows[0].n).toBe(0);
  });
});

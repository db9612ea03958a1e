import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkout } from '../../functions/checkout.js';
import { setOrchestrationClientForTests } from '../../functions/checkout/durable-client.js';
import { resetSettingsForTests } from '../../shared/config/index.js';
import { closeOrms } from '../../shared/db/orm.js';
import { closeRedis } from '../../shared/cache/redis.js';
import {
  closeTestPool,
  createProduct,
  createTenant,
  testPool,
  type CreatedProduct,
} from '../fixtures/sample_data.js';
import { SAMPLE_ADDRESS } from '../fixtures/address.js';
import { authHeaders, createUser } from '../fixtures/users.js';
import { invoke, type InvokeResult } from '../support/http.js';
import { putItem, readCart } from './cart/helpers.js';
import { fillCart, insertOrder, stubClient } from './checkout/helpers.js';

/**
 * Fair stock (issue 19) through POST /checkout and PUT /cart/items: caps on a customer's open unpaid
 * orders, on units of one product across them, and on cart lines. Caps are lowered for this file
 * (its own worker process) so a case needs few rows.
 */
let tenantId: string;
let lamp: CreatedProduct;
let rug: CreatedProduct;

const post = (headers: Record<string, string>, key = randomUUID()): Promise<InvokeResult> =>
  invoke(checkout, {
    method: 'POST',
    url: 'http://localhost/api/checkout',
    headers: { ...headers, 'idempotency-key': key },
    body: { paymentMethodId: 'pm_card_visa', shippingAddress: SAMPLE_ADDRESS },
  });

async function ordersOf(userId: string): Promise<number> {
  const { rows } = await testPool().query('select count(*)::int as n from orders where user_id = $1', [
    userId,
  ]);
  return rows[0].n;
}

async function shopper(
  lines: { productId: string; quantity: number }[],
): Promise<{ id: string; headers: Record<string, string> }> {
  const user = await createUser(tenantId);
  await fillCart(tenantId, user.id, lines);
  return { id: user.id, headers: await authHeaders(user) };
}

beforeAll(async () => {
  process.env.FAIR_STOCK_MAX_OPEN_ORDERS = '2';
  process.env.FAIR_STOCK_MAX_UNITS_PER_PRODUCT = '10';
  process.env.CART_MAX_LINES = '2';
  process.env.DATABASE_POOL_MAX = '30';
  resetSettingsForTests();
  tenantId = (await createTenant('Fair shop')).id;
  lamp = await createProduct(tenantId, { name: 'Lamp', priceCents: 1000, stock: 100 });
  rug = await createProduct(tenantId, { name: 'Rug', priceCents: 5000, stock: 100 });
  setOrchestrationClientForTests(() => stubClient());
});
afterEach(() => setOrchestrationClientForTests(() => stubClient()));
afterAll(async () => {
  setOrchestrationClientForTests(undefined);
  await closeOrms();
  await closeRedis();
  await closeTestPool();
});

describe('fair stock', () => {
  it('refuses a checkout beyond the open unpaid orders cap with a 409 that says why, and writes nothing', async () => {
    const buyer = await shopper([{ productId: lamp.id, quantity: 1 }]);
    expect((await post(buyer.headers)).status).toBe(202);
    expect((await post(buyer.headers)).status).toBe(202);
    const refused = await post(buyer.headers);
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(refused.json.type).toMatch(/open-order-limit$/);
    expect(refused.json.limit).toBe(2);
    expect(refused.json.detail).toMatch(/unpaid/);
    expect(await ordersOf(buyer.id)).toBe(2);
    // A finished (failed, expired, confirmed…) order no longer counts.
    await testPool().query(
      "update orders set status = 'expired' where id = (select id from orders where user_id = $1 limit 1)",
      [buyer.id],
    );
    expect((await post(buyer.headers)).status).toBe(202);
  });

  it('counts units of one product across open orders and the cart', async () => {
    const buyer = await shopper([{ productId: rug.id, quantity: 4 }]);
    await insertOrder(tenantId, buyer.id, [{ productId: rug.id, quantity: 7 }]);
    const refused = await post(buyer.headers);
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ productId: rug.id, limit: 10, held: 7 });
    expect(refused.json.type).toMatch(/product-unit-limit$/);
    await fillCart(tenantId, buyer.id, [{ productId: rug.id, quantity: 3 }]);
    expect((await post(buyer.headers)).status).toBe(202);
  });

  it('holds under concurrent checkouts of one customer with different keys', async () => {
    const buyer = await shopper([{ productId: lamp.id, quantity: 1 }]);
    await insertOrder(tenantId, buyer.id, [{ productId: lamp.id, quantity: 1 }]);
    const answers = await Promise.all(Array.from({ length: 12 }, () => post(buyer.headers)));
    expect(answers.map((a) => a.status).sort()).toEqual([202, ...Array<number>(11).fill(409)]);
    expect(await ordersOf(buyer.id)).toBe(2);
  });

  it('still replays an earlier answer for its Idempotency-Key at the cap', async () => {
    const buyer = await shopper([{ productId: lamp.id, quantity: 1 }]);
    const key = randomUUID();
    const first = await post(buyer.headers, key);
    await post(buyer.headers);
    const again = await post(buyer.headers, key);
    expect(again.status).toBe(202);
    expect(again.json.orderId).toBe(first.json.orderId);
  });

  it('caps the lines of a cart; a refused add changes nothing', async () => {
    const user = await createUser(tenantId);
    const headers = await authHeaders(user);
    const third = await createProduct(tenantId, { name: 'Vase', priceCents: 900, stock: 5 });
    expect((await putItem(headers, lamp.id, 1)).status).toBe(200);
    expect((await putItem(headers, rug.id, 1)).status).toBe(200);
    const before = (await readCart(headers)).json;
    const refused = await putItem(headers, third.id, 1);
    expect(refused.status).toBe(409);
    expect(refused.json.type).toMatch(/cart-line-limit$/);
    expect((await readCart(headers)).json).toEqual(before);
    // Changing a line already there is fine.
    expect((await putItem(headers, rug.id, 2)).status).toBe(200);
  });
});

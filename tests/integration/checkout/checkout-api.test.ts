import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { checkout } from '../../../functions/checkout.js';
import { setOrchestrationClientForTests } from '../../../functions/checkout/durable-client.js';
import { resetSettingsForTests } from '../../../shared/config/index.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { fairStockLimits } from '../../../shared/services/checkout/fair-stock.js';
import { invoke } from '../../support/http.js';
import {
  closeTestPool,
  createProduct,
  createTenant,
  testPool,
  type CreatedProduct,
} from '../../fixtures/sample_data.js';
import { authHeaders, createUser } from '../../fixtures/users.js';
import { cartLines, fillCart, stubClient, type StubClient, invariantsAfterEachTest } from './helpers.js';
import { SAMPLE_ADDRESS } from '../../fixtures/address.js';

let tenantId: string;
let mug: CreatedProduct;
let tea: CreatedProduct;
let client: StubClient;

beforeAll(async () => {
  process.env.DATABASE_POOL_MAX = '30';
  resetSettingsForTests();
  tenantId = (await createTenant('Checkout shop')).id;
  mug = await createProduct(tenantId, { name: 'Mug', priceCents: 1800, stock: 40 });
  tea = await createProduct(tenantId, { name: 'Tea', priceCents: 1250, stock: 100 });
});

afterEach(() => setOrchestrationClientForTests(undefined));

afterAll(async () => {
  await closeOrms();
  await closeTestPool();
});

function useStub(): StubClient {
  client = stubClient();
  setOrchestrationClientForTests(() => client);
  return client;
}

async function customerWithCart(): Promise<{ id: string; headers: Record<string, string> }> {
  const user = await createUser(tenantId);
  await fillCart(tenantId, user.id, [
    { productId: mug.id, quantity: 2 },
    { productId: tea.id, quantity: 3 },
  ]);
  return { id: user.id, headers: await authHeaders(user) };
}

const post = (
  headers: Record<string, string>,
  body: unknown = { paymentMethodId: 'pm_card_visa', shippingAddress: SAMPLE_ADDRESS },
) => invoke(checkout, { method: 'POST', url: 'http://localhost/api/checkout', headers, body });

async function ordersOf(userId: string): Promise<{ id: string; status: string; total_cents: string }[]> {
  const { rows } = await testPool().query('select id, status, total_cents from orders where user_id = $1', [
    userId,
  ]);
  return rows;
}

// The shared oracle (tests/support/invariants.ts) over each test's own orders, at its end.
const invariants = invariantsAfterEachTest(() => [tenantId]);

describe('POST /checkout', () => {
  it('creates a pending order with the cart snapshotted, starts its orchestration, answers 202 + Location', async () => {
    useStub();
    const user = await customerWithCart();
    const key = randomUUID();
    const res = await post({ ...user.headers, 'idempotency-key': key });
    expect(res.status).toBe(202);
    const { orderId, status } = res.json;
    expect(status).toBe('pending');
    expect(res.headers.get('location')).toBe(`/api/orders/${orderId}`);

    const orders = await ordersOf(user.id);
    expect(orders).toEqual([{ id: orderId, status: 'pending', total_cents: String(2 * 1800 + 3 * 1250) }]);
    const { rows: lines } = await testPool().query(
      'select product_id, name, quantity, unit_price_cents, line_total_cents from order_lines where order_id = $1 order by name',
      [orderId],
    );
    expect(lines).toEqual([
      { product_id: mug.id, name: 'Mug', quantity: 2, unit_price_cents: '1800', line_total_cents: '3600' },
      { product_id: tea.id, name: 'Tea', quantity: 3, unit_price_cents: '1250', line_total_cents: '3750' },
    ]);
    expect(client.started).toEqual([
      {
        name: 'checkoutOrchestrator',
        instanceId: orderId,
        input: { orderId, tenantId, paymentTimeoutSeconds: 900 },
      },
    ]);
    // The cart is not touched until the order is paid.
    expect(await cartLines(tenantId, user.id)).toHaveLength(2);
    // Audited in the same transaction.
    const { rows: audit } = await testPool().query(
      `select action from audit_outbox where entity = 'order' and entity_id = $1`,
      [orderId],
    );
    expect(audit).toEqual([{ action: 'created' }]);

    // A later price change does not rewrite the order.
    await testPool().query('update products set price_cents = 1 where id = $1', [mug.id]);
    const { rows: after } = await testPool().query('select total_cents from orders where id = $1', [orderId]);
    expect(after[0].total_cents).toBe('7350');
    await testPool().query('update products set price_cents = 1800 where id = $1', [mug.id]);
  });

  it('requires an Idempotency-Key (400), a body with a PaymentMethod id (400), a token (401)', async () => {
    useStub();
    const user = await customerWithCart();
    const missing = await post(user.headers);
    expect(missing.status).toBe(400);
    expect(missing.json.errors).toEqual([{ field: 'header.idempotency-key', message: expect.any(String) }]);
    const badKey = await post({ ...user.headers, 'idempotency-key': 'has space' });
    expect(badKey.status).toBe(400);
    const badBody = await post(
      { ...user.headers, 'idempotency-key': randomUUID() },
      { paymentMethodId: '4242424242424242' },
    );
    expect(badBody.status).toBe(400);
    const anonymous = await post({ 'idempotency-key': randomUUID(), 'x-tenant-id': tenantId });
    expect(anonymous.status).toBe(401);
    expect(await ordersOf(user.id)).toEqual([]);
    expect(client.started).toEqual([]);
  });

  it('an empty cart is a 409 and creates nothing', async () => {
    useStub();
    const user = await createUser(tenantId);
    const res = await post({ ...(await authHeaders(user)), 'idempotency-key': randomUUID() });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await ordersOf(user.id)).toEqual([]);
  });

  it('the same key again returns the same answer, even after the cart was cleared; a different body is a 422', async () => {
    invariants.forged(); // confirmed by SQL, with no payment or sale behind it
    useStub();
    const user = await customerWithCart();
    const key = randomUUID();
    const first = await post({ ...user.headers, 'idempotency-key': key });
    await testPool().query(`update orders set status = 'confirmed' where id = $1`, [first.json.orderId]);
    await testPool().query(
      `delete from cart_lines where cart_id in (select id from carts where user_id = $1)`,
      [user.id],
    );
    const again = await post({ ...user.headers, 'idempotency-key': key });
    expect(again.status).toBe(202);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    const other = await post(
      { ...user.headers, 'idempotency-key': key },
      { paymentMethodId: 'pm_card_mastercard', shippingAddress: SAMPLE_ADDRESS },
    );
    expect(other.status).toBe(422);
    expect(await ordersOf(user.id)).toHaveLength(1);
    // A finished order is never started again.
    expect(client.started).toHaveLength(1);
  });

  it('20 concurrent requests with one key: one order, one orchestration, 20 identical answers', async () => {
    useStub();
    const user = await customerWithCart();
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => post({ ...user.headers, 'idempotency-key': key })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(202));
    const ids = new Set(responses.map((r) => r.json.orderId as string));
    expect(ids.size).toBe(1);
    const orders = await ordersOf(user.id);
    expect(orders).toHaveLength(1);
    expect(orders[0]!.id).toBe([...ids][0]);
    expect(client.started).toHaveLength(1);
    expect(client.started[0]!.instanceId).toBe(orders[0]!.id);
    const { rows } = await testPool().query<{ n: number }>(
      'select count(*)::int as n from order_lines where order_id = $1',
      [orders[0]!.id],
    );
    expect(rows[0]!.n).toBe(2);
  });

  it('concurrent requests with different keys make different orders', async () => {
    useStub();
    const user = await customerWithCart();
    // As many as one customer may have open at once (fair-stock cap, issue 19).
    const n = fairStockLimits().maxOpenOrders;
    const responses = await Promise.all(
      Array.from({ length: n }, () => post({ ...user.headers, 'idempotency-key': randomUUID() })),
    );
    expect(new Set(responses.map((r) => r.json.orderId)).size).toBe(n);
    expect(client.started).toHaveLength(n);
  });

  it('when the orchestration cannot start: 503, the order is kept, and a retry with the same key starts it', async () => {
    const stub = useStub();
    stub.failStart = true;
    const user = await customerWithCart();
    const key = randomUUID();
    const failed = await post({ ...user.headers, 'idempotency-key': key });
    expect(failed.status).toBe(503);
    const [order] = await ordersOf(user.id);
    expect(order?.status).toBe('pending');

    stub.failStart = false;
    const retried = await post({ ...user.headers, 'idempotency-key': key });
    expect(retried.status).toBe(202);
    expect(retried.json.orderId).toBe(order!.id);
    expect(stub.started.map((s) => s.instanceId)).toEqual([order!.id]);
    // Once running, a further retry's start is refused by the host and that is fine.
    const third = await post({ ...user.headers, 'idempotency-key': key });
    expect(third.status).toBe(202);
    expect(stub.started).toHaveLength(1);
  });

  it('a key is per user: another customer with the same key gets an order of their own', async () => {
    useStub();
    const a = await customerWithCart();
    const b = await customerWithCart();
    const key = randomUUID();
    const ra = await post({ ...a.headers, 'idempotency-key': key });
    const rb = await post({ ...b.headers, 'idempotency-key': key });
    expect(ra.status).toBe(202);
    expect(rb.status).toBe(202);
    expect(ra.json.orderId).not.toBe(rb.json.orderId);
  });
});

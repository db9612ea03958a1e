import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { getOrder, listOrders } from '../../../functions/orders.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { countQueries } from '../../../shared/db/query-counter.js';
import { invoke } from '../../support/http.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../../fixtures/sample_data.js';
import { authHeaders, createUser, type TestUser } from '../../fixtures/users.js';
import { insertOrder, invariantsAfterEachTest } from './helpers.js';

let tenantId: string;
let user: TestUser;
let headers: Record<string, string>;
const orderIds: string[] = [];

beforeAll(async () => {
  tenantId = (await createTenant('Orders shop')).id;
  user = await createUser(tenantId);
  headers = await authHeaders(user);
  const a = await createProduct(tenantId, { name: 'A', priceCents: 300 });
  const b = await createProduct(tenantId, { name: 'B', priceCents: 700 });
  // 25 orders, two lines each; several share one created_at (ties broken by id), in microseconds.
  for (let i = 0; i < 25; i++) {
    const id = await insertOrder(tenantId, user.id, [
      { productId: a.id, quantity: 1 + (i % 3), unitPriceCents: 300 },
      { productId: b.id, quantity: 1, unitPriceCents: 700 },
    ]);
    const at =
      i < 5 ? '2026-01-01T00:00:00.000001Z' : `2026-01-02T00:00:${String(i).padStart(2, '0')}.123456Z`;
    await testPool().query('update orders set created_at = $2 where id = $1', [id, at]);
    orderIds.push(id);
  }
  await testPool().query(
    `insert into payments (id, tenant_id, order_id, payment_intent_id, status, amount_cents, currency)
     values ($1, $2, $3, 'pi_test_1', 'succeeded', 1300, 'USD')`,
    [randomUUID(), tenantId, orderIds[24]],
  );
});

afterAll(async () => {
  await closeOrms();
  await closeTestPool();
});

const list = (query: Record<string, string>, h = headers) =>
  invoke(listOrders, { url: 'http://localhost/api/orders', headers: h, query });

// The shared oracle (tests/support/invariants.ts) over each test's own orders, at its end.
invariantsAfterEachTest(() => [tenantId]);

describe('GET /orders', () => {
  it('pages through the whole history newest first, each order with its lines, no repeats, no gaps', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await list({ pageSize: '7', ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      for (const item of res.json.items) {
        expect(item.lines).toHaveLength(2);
        expect(item.totalCents).toBe(
          item.lines.reduce((s: number, l: { lineTotalCents: number }) => s + l.lineTotalCents, 0),
        );
        seen.push(item.id);
      }
      cursor = res.json.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(4);
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);

    const { rows } = await testPool().query<{ id: string }>(
      'select id from orders where user_id = $1 order by created_at desc, id desc',
      [user.id],
    );
    expect(seen).toEqual(rows.map((r) => r.id));
  });

  it('the newest order carries its payment; lines are eager-loaded: the same statement count for pageSize 1 and 100', async () => {
    const one = await countQueries(() => list({ pageSize: '1' }));
    const hundred = await countQueries(() => list({ pageSize: '100' }));
    expect(one.result.json.items).toHaveLength(1);
    expect(hundred.result.json.items).toHaveLength(25);
    expect(one.queries).toBe(hundred.queries);
    // Authentication (user row) + the page + its lines: bounded, whatever the page size.
    expect(hundred.queries).toBeLessThanOrEqual(4);
    expect(one.result.json.items[0]).toMatchObject({
      id: orderIds[24],
      payment: { status: 'succeeded', paymentIntentId: 'pi_test_1' },
      createdAt: '2026-01-02T00:00:24.123Z',
    });
  });

  it('shows only the caller’s orders; rejects a bad page size or a forged cursor with 400', async () => {
    const other = await createUser(tenantId);
    const res = await list({}, await authHeaders(other));
    expect(res.json).toEqual({ items: [], nextCursor: null });
    expect((await list({ pageSize: '101' })).status).toBe(400);
    expect((await list({ cursor: 'not-a-cursor!' })).status).toBe(400);
    const foreign = Buffer.from(JSON.stringify({ c: "x' or 1=1", i: 'y' })).toString('base64url');
    expect((await list({ cursor: foreign })).status).toBe(400);
    expect((await list({}, {})).status).toBe(401);
  });
});

describe('GET /orders/{id}', () => {
  it('returns the caller’s order; another user’s or another tenant’s is a 404', async () => {
    const res = await invoke(getOrder, { headers, params: { id: orderIds[3]! } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      id: orderIds[3],
      status: 'pending',
      currency: 'USD',
      payment: { status: 'pending', paymentIntentId: null },
    });
    expect(res.json.clientSecret).toBeUndefined();

    const stranger = await createUser(tenantId);
    const other = await invoke(getOrder, {
      headers: await authHeaders(stranger),
      params: { id: orderIds[3]! },
    });
    expect(other.status).toBe(404);

    const otherTenant = (await createTenant('Elsewhere')).id;
    const foreigner = await createUser(otherTenant);
    const cross = await invoke(getOrder, {
      headers: await authHeaders(foreigner),
      params: { id: orderIds[3]! },
    });
    expect(cross.status).toBe(404);
    expect((await invoke(getOrder, { headers, params: { id: randomUUID() } })).status).toBe(404);
    expect((await invoke(getOrder, { headers, params: { id: 'nope' } })).status).toBe(400);
  });
});

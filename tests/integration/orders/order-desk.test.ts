import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { getManagedOrder, listManagedOrders } from '../../../functions/manage-orders.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { countQueries } from '../../../shared/db/query-counter.js';
import { closeAuditTrail } from '../../../shared/services/audit/audit-trail.js';
import { getAuditRelay } from '../../../shared/services/audit/relay.js';
import { invoke } from '../../support/http.js';
import { SAMPLE_ADDRESS } from '../../fixtures/address.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../../fixtures/sample_data.js';
import { authHeaders, createUser, type TestUser } from '../../fixtures/users.js';
import { orderIn } from './helpers.js';

let tenantId: string;
let alice: TestUser;
let bob: TestUser;
let adminHeaders: Record<string, string>;
let productId: string;
/** Every order of the tenant, newest first: [id, status, user]. */
const all: { id: string; status: string; userId: string; createdAt: string }[] = [];

beforeAll(async () => {
  tenantId = (await createTenant('Desk shop')).id;
  alice = await createUser(tenantId, { email: 'Alice.Desk@example.test', name: 'Alice' });
  bob = await createUser(tenantId, { email: 'bob.desk@example.test', name: 'Bob' });
  const admin = await createUser(tenantId, { roles: ['admin'] });
  adminHeaders = await authHeaders(admin);
  productId = (await createProduct(tenantId)).id;
  const statuses = ['confirmed', 'pending', 'shipped', 'failed'] as const;
  // 130 orders over 130 seconds; several share a created_at (ties broken by id).
  for (let i = 0; i < 130; i++) {
    const user = i % 3 === 0 ? bob : alice;
    const status = statuses[i % statuses.length]!;
    const createdAt = new Date(Date.UTC(2026, 5, 1, 0, 0, Math.floor(i / 2))).toISOString();
    const id = await orderIn(tenantId, user.id, productId, status, { createdAt });
    all.push({ id, status, userId: user.id, createdAt });
  }
  // Another tenant's orders never show.
  const other = (await createTenant('Other desk shop')).id;
  const stranger = await createUser(other, { email: 'alice.desk@example.test' });
  const otherProduct = (await createProduct(other)).id;
  await orderIn(other, stranger.id, otherProduct, 'confirmed');
  const { rows } = await testPool().query<{ id: string }>(
    'select id from orders where tenant_id = $1 order by created_at desc, id desc',
    [tenantId],
  );
  const order = new Map(rows.map((r, i) => [r.id, i]));
  all.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
});

afterAll(async () => {
  await closeAuditTrail();
  await closeOrms();
  await closeTestPool();
});

const list = (query: Record<string, string>, headers = adminHeaders) =>
  invoke(listManagedOrders, { url: 'http://localhost/api/manage/orders', headers, query });

async function everything(query: Record<string, string>): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const res = await list({ ...query, ...(cursor ? { cursor } : {}) });
    expect(res.status, res.text).toBe(200);
    ids.push(...res.json.items.map((item: { id: string }) => item.id));
    cursor = res.json.nextCursor ?? undefined;
    pages++;
  } while (cursor);
  return { ids, pages };
}

describe('GET /manage/orders', () => {
  it('pages through every order of the tenant newest first: 20 by default, no repeats, no gaps', async () => {
    const first = await list({});
    expect(first.json.items).toHaveLength(20);
    expect(first.json.items[0]).toMatchObject({
      id: all[0]!.id,
      customer: { id: expect.any(String), email: expect.stringMatching(/desk@example\.test$/i) },
      payment: { status: expect.any(String) },
    });
    const { ids, pages } = await everything({ pageSize: '50' });
    expect(pages).toBe(3);
    expect(ids).toEqual(all.map((o) => o.id));
  });

  it('filters by status, by created range and by the customer email (case-insensitive, through the blind index)', async () => {
    expect((await everything({ status: 'shipped', pageSize: '7' })).ids).toEqual(
      all.filter((o) => o.status === 'shipped').map((o) => o.id),
    );
    const from = '2026-06-01T00:00:10Z';
    const to = '2026-06-01T00:00:40Z';
    expect((await everything({ from, to })).ids).toEqual(
      all
        .filter((o) => o.createdAt >= '2026-06-01T00:00:10.000Z' && o.createdAt < '2026-06-01T00:00:40.000Z')
        .map((o) => o.id),
    );
    expect((await everything({ email: 'ALICE.desk@Example.test' })).ids).toEqual(
      all.filter((o) => o.userId === alice.id).map((o) => o.id),
    );
    expect((await everything({ email: 'bob.desk@example.test', status: 'confirmed', from, to })).ids).toEqual(
      all
        .filter(
          (o) =>
            o.userId === bob.id &&
            o.status === 'confirmed' &&
            o.createdAt >= '2026-06-01T00:00:10.000Z' &&
            o.createdAt < '2026-06-01T00:00:40.000Z',
        )
        .map((o) => o.id),
    );
    expect((await everything({ email: 'nobody@example.test' })).ids).toEqual([]);
  });

  it('refuses bad filters and page sizes with a 400 problem', async () => {
    const bad: Record<string, string>[] = [
      { pageSize: '101' },
      { pageSize: '0' },
      { status: 'lost' },
      { from: 'yesterday' },
      { from: '2026-06-02T00:00:00Z', to: '2026-06-01T00:00:00Z' },
      { cursor: 'not-a-cursor!' },
      { unknown: 'x' },
    ];
    for (const query of bad) {
      const res = await list(query);
      expect(res.status, JSON.stringify(query)).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  it('costs the same number of statements for a page of 1 and of 100, with or without filters', async () => {
    const one = await countQueries(() => list({ pageSize: '1' }));
    const hundred = await countQueries(() => list({ pageSize: '100' }));
    const filtered = await countQueries(() =>
      list({ pageSize: '100', email: 'alice.desk@example.test', status: 'confirmed' }),
    );
    expect(hundred.result.json.items).toHaveLength(100);
    expect(hundred.queries).toBe(one.queries);
    expect(filtered.queries).toBe(one.queries);
    expect(one.queries).toBeLessThanOrEqual(3);
  });

  it('is for admins only', async () => {
    expect((await list({}, await authHeaders(alice))).status).toBe(401);
    expect(
      (await list({}, { ...(await authHeaders(alice)), 'x-admin-token': process.env.ADMIN_TOKEN! })).status,
    ).toBe(403);
  });
});

describe('GET /manage/orders/{id}', () => {
  const get = (id: string, headers = adminHeaders) =>
    invoke(getManagedOrder, { url: `http://localhost/api/manage/orders/${id}`, headers, params: { id } });

  it('shows customer, address, lines, payment, refunds and the audit timeline (relayed and pending alike)', async () => {
    const id = all.find((o) => o.status === 'confirmed' && o.userId === alice.id)!.id;
    await testPool().query(
      `insert into audit_outbox (id, tenant_id, entity, entity_id, action, payload)
       values ($1, $2, 'order', $3, 'status:confirmed', $4::jsonb)`,
      [
        randomUUID(),
        tenantId,
        id,
        JSON.stringify({ status: 'confirmed', actor: { userId: null, role: 'system' } }),
      ],
    );
    await getAuditRelay().drain();
    await testPool().query(
      `insert into audit_outbox (id, tenant_id, entity, entity_id, action, payload, created_at)
       values ($1, $2, 'order', $3, 'note', $4::jsonb, now() + interval '1 second')`,
      [
        randomUUID(),
        tenantId,
        id,
        JSON.stringify({ actor: { userId: alice.id, role: 'customer' }, correlationId: 'c' }),
      ],
    );
    const res = await get(id);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      id,
      status: 'confirmed',
      customer: { id: alice.id, email: 'Alice.Desk@example.test', name: 'Alice' },
      shippingAddress: SAMPLE_ADDRESS,
      lines: [{ productId, quantity: 1 }],
      payment: { status: 'succeeded', paymentIntentId: expect.stringMatching(/^pi_/) },
      refunds: [],
      timelineComplete: true,
    });
    expect(res.json.timeline.map((e: { action: string }) => e.action)).toEqual(['status:confirmed', 'note']);
    expect(res.json.timeline[0]).toMatchObject({
      actor: { role: 'system' },
      details: { status: 'confirmed' },
    });
    expect(res.json.timeline[1]).toMatchObject({
      actor: { userId: alice.id, role: 'customer' },
      details: {},
    });
  });

  it('is a 404 for an unknown order, another tenant’s order and a malformed id', async () => {
    expect((await get(randomUUID())).status).toBe(404);
    const { rows } = await testPool().query<{ id: string }>(
      'select id from orders where tenant_id <> $1 limit 1',
      [tenantId],
    );
    expect((await get(rows[0]!.id)).status).toBe(404);
    expect((await get('not-a-uuid')).status).toBe(400);
  });
});

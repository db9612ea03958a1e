import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createFulfilment } from '../../../functions/manage-orders.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { stableEventId } from '../../../shared/services/orders/order-events.js';
import { invoke } from '../../support/http.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../../fixtures/sample_data.js';
import { authHeaders, createUser, type TestUser } from '../../fixtures/users.js';
import { auditRows, eventsOf, orderIn, statusOf } from './helpers.js';

let tenantId: string;
let customer: TestUser;
let admin: TestUser;
let adminHeaders: Record<string, string>;
let productId: string;

beforeAll(async () => {
  tenantId = (await createTenant('Ship shop')).id;
  customer = await createUser(tenantId);
  admin = await createUser(tenantId, { roles: ['admin'] });
  adminHeaders = await authHeaders(admin);
  productId = (await createProduct(tenantId)).id;
});

afterAll(async () => {
  await closeOrms();
  await closeTestPool();
});

const ship = (orderId: string, body: unknown, headers = adminHeaders) =>
  invoke(createFulfilment, {
    method: 'POST',
    url: `http://localhost/api/manage/orders/${orderId}/fulfilments`,
    headers,
    params: { id: orderId },
    body,
  });

describe('POST /manage/orders/{id}/fulfilments', () => {
  it('ships a confirmed order: 201, fulfilment stored, audited with the admin and before/after, one order.shipped event', async () => {
    const orderId = await orderIn(tenantId, customer.id, productId, 'confirmed');
    const res = await ship(orderId, { carrier: 'DHL', trackingNumber: 'JD0001' });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ orderId, status: 'shipped', carrier: 'DHL', trackingNumber: 'JD0001' });
    expect(Date.parse(res.json.shippedAt)).not.toBeNaN();
    expect(await statusOf(orderId)).toBe('shipped');

    const audit = (await auditRows(orderId)).filter((r) => r.action === 'status:shipped');
    expect(audit).toHaveLength(1);
    expect(audit[0]!.payload).toMatchObject({
      actor: { userId: admin.id, role: 'admin' },
      before: { status: 'confirmed' },
      after: { status: 'shipped', carrier: 'DHL', trackingNumber: 'JD0001' },
    });
    const events = await eventsOf(orderId);
    expect(events).toEqual([
      {
        id: stableEventId(orderId, 'order.shipped'),
        type: 'order.shipped',
        body: { carrier: 'DHL', trackingNumber: 'JD0001' },
      },
    ]);

    // The same fulfilment again: the same answer, nothing new written.
    const again = await ship(orderId, { carrier: 'DHL', trackingNumber: 'JD0001' });
    expect(again.status).toBe(201);
    expect(again.json).toEqual(res.json);
    expect(await eventsOf(orderId)).toHaveLength(1);
    expect((await auditRows(orderId)).filter((r) => r.action === 'status:shipped')).toHaveLength(1);

    // Another fulfilment for a shipped order is a conflict.
    const other = await ship(orderId, { carrier: 'DHL', trackingNumber: 'JD0002' });
    expect(other.status).toBe(409);
    expect(other.headers.get('content-type')).toContain('application/problem+json');
  });

  it.each(['pending', 'awaiting_payment', 'failed', 'cancelled', 'expired'] as const)(
    'refuses a %s order with 409 problem+json and changes nothing',
    async (status) => {
      const orderId = await orderIn(tenantId, customer.id, productId, status);
      const res = await ship(orderId, { carrier: 'UPS', trackingNumber: '1Z999' });
      expect(res.status).toBe(409);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.json).toMatchObject({ orderStatus: status });
      expect(await statusOf(orderId)).toBe(status);
      const { rows } = await testPool().query('select 1 from fulfilments where order_id = $1', [orderId]);
      expect(rows).toHaveLength(0);
      expect(await eventsOf(orderId)).toHaveLength(0);
    },
  );

  it('bad input is a 400 that writes nothing; unknown, foreign and non-admin callers are refused', async () => {
    const orderId = await orderIn(tenantId, customer.id, productId, 'confirmed');
    for (const body of [
      {},
      { carrier: '', trackingNumber: 'X1' },
      { carrier: 'DHL\u0000', trackingNumber: 'X1' },
      { carrier: 'DHL', trackingNumber: 'has/slash' },
      { carrier: 'DHL', trackingNumber: 'X1', extra: true },
    ]) {
      const res = await ship(orderId, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect(await statusOf(orderId)).toBe('confirmed');

    expect((await ship(randomUUID(), { carrier: 'DHL', trackingNumber: 'X1' })).status).toBe(404);
    const otherTenant = (await createTenant('Other ship shop')).id;
    const otherAdmin = await createUser(otherTenant, { roles: ['admin'] });
    expect(
      (await ship(orderId, { carrier: 'DHL', trackingNumber: 'X1' }, await authHeaders(otherAdmin))).status,
    ).toBe(404);
    expect(
      (await ship(orderId, { carrier: 'DHL', trackingNumber: 'X1' }, await authHeaders(customer))).status,
    ).toBe(401);
    expect(await statusOf(orderId)).toBe('confirmed');
  });

  it('two admins shipping one order at once with different parcels: one 201, one 409, one fulfilment and one event', async () => {
    const orderId = await orderIn(tenantId, customer.id, productId, 'confirmed');
    const results = await Promise.all([
      ship(orderId, { carrier: 'DHL', trackingNumber: 'RACE1' }),
      ship(orderId, { carrier: 'UPS', trackingNumber: 'RACE2' }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    const { rows } = await testPool().query('select tracking_number from fulfilments where order_id = $1', [
      orderId,
    ]);
    expect(rows).toHaveLength(1);
    expect(await eventsOf(orderId)).toHaveLength(1);
  });
});

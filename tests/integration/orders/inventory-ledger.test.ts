import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  setProductInventory,
  adjustProductInventory,
  createProduct as adminCreateProduct,
  getProductInventory,
} from '../../../functions/manage-products.js';
import { runUnitOfWork } from '../../../shared/db/unit-of-work.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { InventoryService } from '../../../shared/services/inventory/inventory-service.js';
import type { DomainContext } from '../../../shared/services/context.js';
import { invoke } from '../../support/http.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../../fixtures/sample_data.js';
import { authHeaders, createUser, type TestUser } from '../../fixtures/users.js';
import { insertOrder, stockOf } from '../checkout/helpers.js';
import { auditRows } from './helpers.js';

let tenantId: string;
let admin: TestUser;
let adminHeaders: Record<string, string>;
let customer: TestUser;

beforeAll(async () => {
  tenantId = (await createTenant('Ledger shop')).id;
  admin = await createUser(tenantId, { roles: ['admin'] });
  adminHeaders = await authHeaders(admin);
  customer = await createUser(tenantId);
});

afterAll(async () => {
  await closeOrms();
  await closeTestPool();
});

const adjust = (productId: string, body: unknown) =>
  invoke(adjustProductInventory, {
    method: 'POST',
    url: `http://localhost/api/manage/products/${productId}/inventory/adjustments`,
    headers: adminHeaders,
    params: { id: productId },
    body,
  });
const view = (productId: string) =>
  invoke(getProductInventory, {
    url: `http://localhost/api/manage/products/${productId}/inventory`,
    headers: adminHeaders,
    params: { id: productId },
  });

/** `read` = autocommit, as checkout's reserve step runs: no transaction rolls a refused call back. */
function inTenant<T>(fn: (ctx: DomainContext) => Promise<T>, mode: 'read' | 'write' = 'write'): Promise<T> {
  return runUnitOfWork(mode, (em) =>
    fn({ em, tenantId, log: console, correlationId: 'ledger-test' } as DomainContext),
  );
}

async function ledger(productId: string): Promise<
  {
    kind: string;
    on_hand_delta: number;
    reserved_delta: number;
    order_id: string | null;
    reason: string | null;
  }[]
> {
  const { rows } = await testPool().query(
    'select kind, on_hand_delta, reserved_delta, order_id, reason from stock_movements where product_id = $1 order by id',
    [productId],
  );
  return rows;
}

describe('inventory as a ledger', () => {
  it('records the initial stock, adjustments, reservations, sales and releases with their causes; the levels follow', async () => {
    // Ledger ids about to gain a digit: newest-first must hold across 999 → 1000 (numeric, not text).
    const { rows: seqRows } = await testPool().query<{ seq: string }>(
      `select pg_get_serial_sequence('stock_movements', 'id') as seq`,
    );
    const seq = seqRows[0]!.seq;
    const { rows: lastRows } = await testPool().query<{ last_value: string }>(
      `select last_value from ${seq}`,
    );
    const next = 10 ** String(Number(lastRows[0]!.last_value) + 10).length;
    await testPool().query('select setval($1, $2)', [seq, next - 3]);
    const created = await invoke(adminCreateProduct, {
      method: 'POST',
      url: 'http://localhost/api/manage/products',
      headers: adminHeaders,
      body: { sku: 'LEDGER-1', name: 'Ledger', description: '', priceCents: 500, currency: 'USD', stock: 10 },
    });
    expect(created.status).toBe(201);
    const productId = created.json.id as string;

    const added = await adjust(productId, { delta: 5, reason: 'delivery from supplier' });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ productId, delta: 5, onHand: 15, reserved: 0, available: 15 });

    const sold = await insertOrder(tenantId, customer.id, [{ productId, quantity: 3 }]);
    const dropped = await insertOrder(tenantId, customer.id, [{ productId, quantity: 2 }]);
    await inTenant((ctx) => new InventoryService(ctx).reserve(sold, [{ productId, quantity: 3 }], 600));
    await inTenant((ctx) => new InventoryService(ctx).reserve(dropped, [{ productId, quantity: 2 }], 600));
    await inTenant((ctx) => new InventoryService(ctx).commit(sold));
    await inTenant(async (ctx) => {
      await ctx.em.execute(`select set_config('app.stock_cause', 'cancelled', true)`);
      return new InventoryService(ctx).release(dropped);
    });

    const res = await view(productId);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ productId, onHand: 12, reserved: 0, available: 12, sold: 3 });
    expect(res.json.movements.map((m: { kind: string }) => m.kind)).toEqual([
      'release',
      'sale',
      'reservation',
      'reservation',
      'adjustment',
      'restock',
    ]);
    expect(await ledger(productId)).toEqual([
      { kind: 'restock', on_hand_delta: 10, reserved_delta: 0, order_id: null, reason: 'initial stock' },
      {
        kind: 'adjustment',
        on_hand_delta: 5,
        reserved_delta: 0,
        order_id: null,
        reason: 'delivery from supplier',
      },
      { kind: 'reservation', on_hand_delta: 0, reserved_delta: 3, order_id: sold, reason: null },
      { kind: 'reservation', on_hand_delta: 0, reserved_delta: 2, order_id: dropped, reason: null },
      { kind: 'sale', on_hand_delta: -3, reserved_delta: -3, order_id: sold, reason: null },
      { kind: 'release', on_hand_delta: 0, reserved_delta: -2, order_id: dropped, reason: 'cancelled' },
    ]);
    const audit = await auditRows(productId);
    expect(audit).toEqual([
      expect.objectContaining({
        entity: 'stock',
        action: 'adjustment',
        payload: expect.objectContaining({
          actor: { userId: admin.id, role: 'admin' },
          delta: 5,
          before: { onHand: 10, reserved: 0, available: 10 },
          after: { onHand: 15, reserved: 0, available: 15 },
        }),
      }),
    ]);
  });

  it('an order refused for want of stock leaves no ledger row, even for the line it held for a moment', async () => {
    const [first, second] = [
      await createProduct(tenantId, { stock: 5 }),
      await createProduct(tenantId, { stock: 1 }),
    ].sort((a, b) => (a.id < b.id ? -1 : 1));
    // The lower id is reserved first, then the short one stops the call, which gives the first back.
    await testPool().query('update inventory set available = 1 where product_id = $1', [second!.id]);
    await testPool().query('update inventory set available = 5 where product_id = $1', [first!.id]);
    const lines = [
      { productId: first!.id, quantity: 2 },
      { productId: second!.id, quantity: 2 },
    ];
    const order = await insertOrder(tenantId, customer.id, lines);
    await expect(
      inTenant((ctx) => new InventoryService(ctx).reserve(order, lines, 600), 'read'),
    ).rejects.toThrow();
    expect(await stockOf(first!.id)).toEqual({ available: 5, reserved: 0, sold: 0 });
    expect(await ledger(first!.id)).toEqual([]);
    expect(await ledger(second!.id)).toEqual([]);
  });

  it('never lets on-hand drop below reserved: 409 problem+json, nothing changed', async () => {
    const product = await createProduct(tenantId, { stock: 5 });
    const order = await insertOrder(tenantId, customer.id, [{ productId: product.id, quantity: 4 }]);
    await inTenant((ctx) =>
      new InventoryService(ctx).reserve(order, [{ productId: product.id, quantity: 4 }], 600),
    );
    const res = await adjust(product.id, { delta: -2, reason: 'broken' });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.json).toMatchObject({ onHand: 5, reserved: 4 });
    expect(await stockOf(product.id)).toEqual({ available: 1, reserved: 4, sold: 0 });
    expect((await adjust(product.id, { delta: -1, reason: 'broken' })).status).toBe(201);
    expect(await stockOf(product.id)).toEqual({ available: 0, reserved: 4, sold: 0 });
  });

  it('setting the quantity (PUT) is recorded as an adjustment of the difference and audited with before/after', async () => {
    const product = await createProduct(tenantId, { stock: 5 });
    const res = await invoke(setProductInventory, {
      method: 'PUT',
      url: `http://localhost/api/manage/products/${product.id}/inventory`,
      headers: adminHeaders,
      params: { id: product.id },
      body: { quantity: 12 },
    });
    expect(res.status).toBe(200);
    expect(await ledger(product.id)).toEqual([
      { kind: 'adjustment', on_hand_delta: 7, reserved_delta: 0, order_id: null, reason: 'set' },
    ]);
    expect(await auditRows(product.id)).toEqual([
      expect.objectContaining({
        entity: 'stock',
        action: 'set',
        payload: expect.objectContaining({
          actor: { userId: admin.id, role: 'admin' },
          before: { available: 5, reserved: 0, onHand: 5 },
          after: { available: 12, reserved: 0, onHand: 12 },
        }),
      }),
    ]);
  });

  it('bad input is a 400; unknown products a 404', async () => {
    const product = await createProduct(tenantId, { stock: 5 });
    for (const body of [
      { delta: 0, reason: 'x' },
      { delta: 1.5, reason: 'x' },
      { delta: 1 },
      { delta: 1, reason: '' },
      { delta: 1, reason: 'a\u0007' },
    ]) {
      expect((await adjust(product.id, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await adjust('9b7a4f2e-0000-4000-8000-000000000000', { delta: 1, reason: 'x' })).status).toBe(
      404,
    );
    expect((await view('9b7a4f2e-0000-4000-8000-000000000000')).status).toBe(404);
    expect(await stockOf(product.id)).toEqual({ available: 5, reserved: 0, sold: 0 });
  });

  it('under concurrent removals and reservations on-hand never drops below reserved, and the ledger adds up', async () => {
    const start = 40;
    const product = await createProduct(tenantId, { stock: start });
    const orders = await Promise.all(
      Array.from({ length: 15 }, () =>
        insertOrder(tenantId, customer.id, [{ productId: product.id, quantity: 2 }]),
      ),
    );
    const reservations = orders.map((orderId) =>
      inTenant((ctx) =>
        new InventoryService(ctx).reserve(orderId, [{ productId: product.id, quantity: 2 }], 600),
      ).then(
        () => 'reserved',
        () => 'short',
      ),
    );
    const removals = Array.from({ length: 15 }, () => adjust(product.id, { delta: -2, reason: 'shrinkage' }));
    const [reserved, removed] = await Promise.all([Promise.all(reservations), Promise.all(removals)]);
    const held = reserved.filter((r) => r === 'reserved').length;
    const taken = removed.filter((r) => r.status === 201).length;
    expect(removed.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    // 30 units asked by each side for 40 on hand: neither side alone can empty it, so both got some, and
    // every unit went exactly one way.
    expect(held * 2 + taken * 2).toBe(start);
    expect(held).toBeGreaterThanOrEqual(5);
    expect(taken).toBeGreaterThanOrEqual(5);

    const stock = await stockOf(product.id);
    expect(stock.available).toBe(0);
    expect(stock.reserved).toBe(held * 2);
    const rows = await ledger(product.id);
    const onHand = start + rows.reduce((sum, r) => sum + r.on_hand_delta, 0);
    const reservedSum = rows.reduce((sum, r) => sum + r.reserved_delta, 0);
    expect(onHand).toBe(stock.available + stock.reserved);
    expect(reservedSum).toBe(stock.reserved);
  });
});

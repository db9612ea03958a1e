import { randomUUID } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import { afterEach, beforeEach, expect } from 'vitest';
import { setOrchestrationClientForTests } from '../../../functions/checkout/durable-client.js';
import {
  createProduct,
  createTenant,
  openingStockOf,
  testPool,
  type CreatedProduct,
} from '../../fixtures/sample_data.js';
import { authHeaders, createUser, type TestUser } from '../../fixtures/users.js';
import { checkInvariants, type FakeIntentView, type InvariantReport } from '../../support/invariants.js';
import type { OrchestrationClient } from '../../../shared/services/checkout/orchestration-client.js';

/** Who buys what in a test file's shop: one product, bought at its price. */
export interface Buyer {
  tenantId: string;
  userId: string;
  productId: string;
  unitPriceCents: number;
}

/** A test file's own shop: its tenant, a customer (and their request headers), one product. */
export interface TestShop {
  tenantId: string;
  customer: TestUser;
  customerHeaders: Record<string, string>;
  product: CreatedProduct;
  /** The customer buying the product at its price (the checkout's steps in ../orders/paid-orders.ts). */
  buyer: Buyer;
}

export async function openShop(
  name: string,
  product: { stock: number; priceCents?: number },
): Promise<TestShop> {
  const tenantId = (await createTenant(name)).id;
  const customer = await createUser(tenantId);
  const customerHeaders = await authHeaders(customer);
  const created = await createProduct(tenantId, product);
  return {
    tenantId,
    customer,
    customerHeaders,
    product: created,
    buyer: { tenantId, userId: customer.id, productId: created.id, unitPriceCents: created.priceCents },
  };
}

export interface Stock {
  available: number;
  reserved: number;
  sold: number;
}

export async function stockOf(productId: string): Promise<Stock> {
  const { rows } = await testPool().query<Stock>(
    'select available, reserved, sold from inventory where product_id = $1',
    [productId],
  );
  return rows[0]!;
}

/** Puts lines into the user's cart (creating it), as the cart API would have. */
export async function fillCart(
  tenantId: string,
  userId: string,
  lines: { productId: string; quantity: number }[],
): Promise<void> {
  const pool = testPool();
  const { rows } = await pool.query<{ id: string }>(
    `insert into carts (id, tenant_id, user_id, version) values ($1, $2, $3, 1)
     on conflict (tenant_id, user_id) do update set version = carts.version + 1 returning id`,
    [randomUUID(), tenantId, userId],
  );
  const cartId = rows[0]!.id;
  for (const line of lines) {
    await pool.query(
      `insert into cart_lines (id, tenant_id, cart_id, product_id, quantity) values ($1, $2, $3, $4, $5)
       on conflict (cart_id, product_id) do update set quantity = excluded.quantity`,
      [randomUUID(), tenantId, cartId, line.productId, line.quantity],
    );
  }
}

export async function cartLines(
  tenantId: string,
  userId: string,
): Promise<{ productId: string; quantity: number }[]> {
  const { rows } = await testPool().query<{ product_id: string; quantity: number }>(
    `select l.product_id, l.quantity from cart_lines l join carts c on c.id = l.cart_id
     where c.tenant_id = $1 and c.user_id = $2 order by l.product_id`,
    [tenantId, userId],
  );
  return rows.map((r) => ({ productId: r.product_id, quantity: r.quantity }));
}

/**
 * A pending order with lines, inserted directly (for tests of the steps below POST /checkout), with the
 * `created` audit row POST /checkout writes with it, so the invariant checker's audit replay sees what
 * production writes. `audit: false` for tests that then force a status by SQL (no replay can follow).
 */
export async function insertOrder(
  tenantId: string,
  userId: string,
  lines: { productId: string; quantity: number; unitPriceCents?: number }[],
  paymentMethodId = 'pm_card_visa',
  options: { audit?: boolean } = {},
): Promise<string> {
  const id = randomUUID();
  const total = lines.reduce((sum, l) => sum + (l.unitPriceCents ?? 1000) * l.quantity, 0);
  const pool = testPool();
  await pool.query(
    `insert into orders (id, tenant_id, user_id, status, total_cents, currency, idempotency_key, request_hash, payment_method_id)
     values ($1, $2, $3, 'pending', $4, 'USD', $5, 'h', $6)`,
    [id, tenantId, userId, total, randomUUID(), paymentMethodId],
  );
  for (const line of lines) {
    const unit = line.unitPriceCents ?? 1000;
    await pool.query(
      `insert into order_lines (id, tenant_id, order_id, product_id, name, quantity, unit_price_cents, line_total_cents)
       values ($1, $2, $3, $4, 'Line', $5, $6, $7)`,
      [randomUUID(), tenantId, id, line.productId, line.quantity, unit, unit * line.quantity],
    );
  }
  if (options.audit ?? true) {
    await pool.query(
      `insert into audit_outbox (id, tenant_id, entity, entity_id, action, payload)
       values ($1, $2, 'order', $3, 'created', $4::jsonb)`,
      [
        randomUUID(),
        tenantId,
        id,
        JSON.stringify({ status: 'pending', userId, totalCents: total, currency: 'USD' }),
      ],
    );
  }
  return id;
}

export async function orderRow(
  orderId: string,
): Promise<{ status: string; failure_reason: string | null; total_cents: string }> {
  const { rows } = await testPool().query(
    'select status, failure_reason, total_cents from orders where id = $1',
    [orderId],
  );
  return rows[0];
}

export async function paymentRow(orderId: string): Promise<
  | {
      status: string;
      payment_intent_id: string | null;
      client_secret: string | null;
      amount_cents: string;
      last_error: string | null;
    }
  | undefined
> {
  const { rows } = await testPool().query('select * from payments where order_id = $1', [orderId]);
  return rows[0];
}

/** The order's reservations past their expiry, as if the payment window had long gone by. */
export async function expireReservation(orderId: string): Promise<void> {
  await testPool().query(
    `update reservations set expires_at = now() - interval '1 second' where order_id = $1`,
    [orderId],
  );
}

export async function reservationStatuses(orderId: string): Promise<string[]> {
  const { rows } = await testPool().query<{ status: string }>(
    'select status from reservations where order_id = $1 order by product_id',
    [orderId],
  );
  return rows.map((r) => r.status);
}

export interface StubClient extends OrchestrationClient {
  started: { name: string; instanceId: string; input: unknown }[];
  raised: { instanceId: string; eventName: string; eventData: unknown }[];
  failStart: boolean;
  failRaise: boolean;
}

/** A durable client that records calls; a second start of one instance is refused, like the host's. */
export function stubClient(): StubClient {
  const instances = new Set<string>();
  const stub: StubClient = {
    started: [],
    raised: [],
    failStart: false,
    failRaise: false,
    async startNew(name, options) {
      if (stub.failStart) throw new Error('host unavailable');
      // Let racing starts interleave, as HTTP calls to the host would.
      await new Promise((r) => setImmediate(r));
      if (instances.has(options.instanceId)) throw new Error('409: instance already exists');
      instances.add(options.instanceId);
      stub.started.push({ name, instanceId: options.instanceId, input: options.input });
      return options.instanceId;
    },
    async getStatus(instanceId) {
      if (!instances.has(instanceId)) throw new Error('404');
      return { instanceId, runtimeStatus: 'Running' };
    },
    async raiseEvent(instanceId, eventName, eventData) {
      if (stub.failRaise) throw new Error('host unavailable');
      stub.raised.push({ instanceId, eventName, eventData });
    },
  };
  return stub;
}

/**
 * Each test gets a fresh `stubClient()` as the handlers' durable client (no host fills the binding
 * in-process); the getter returns the current test's.
 */
export function useStubOrchestration(): () => StubClient {
  let client: StubClient | undefined;
  beforeEach(() => {
    const stub = stubClient();
    client = stub;
    setOrchestrationClientForTests(() => stub);
  });
  afterEach(() => setOrchestrationClientForTests(undefined));
  return () => {
    if (!client) throw new Error('useStubOrchestration: the stub is installed in beforeEach');
    return client;
  };
}

export type ClientFactory = (invocation: InvocationContext) => OrchestrationClient;

/**
 * The shared oracle (tests/support/invariants.ts) over a test file's own tenants, asserted: products
 * made by `createProduct` in this process, orders and payments of those tenants only (files share the
 * run database). Handlers run in-process here, so no audit relay runs unless the file drives one.
 */
export async function expectInvariants(
  tenantIds: readonly string[],
  options: {
    fake?: { url: string; paymentIntents(): readonly FakeIntentView[] };
    settled?: boolean;
    expiryGraceSeconds?: number;
    relayed?: boolean;
    allowNoOrders?: boolean;
    orderIds?: readonly string[];
  } = {},
): Promise<InvariantReport> {
  const fake = options.fake;
  const report = await checkInvariants({
    appUrl: process.env.DATABASE_URL!,
    auditUrl: process.env.AUDIT_DATABASE_URL!,
    initialStock: openingStockOf(tenantIds),
    tenantIds,
    ...(fake ? { paymentIntents: () => fake.paymentIntents(), stripeUrl: fake.url } : {}),
    settled: options.settled ?? false,
    relayed: options.relayed ?? false,
    ...(options.expiryGraceSeconds === undefined ? {} : { expiryGraceSeconds: options.expiryGraceSeconds }),
    ...(options.allowNoOrders ? { allowNoOrders: true } : {}),
    ...(options.orderIds ? { orderIds: options.orderIds } : {}),
  });
  expect(report.ok, report.summary()).toBe(true);
  return report;
}

/**
 * For a file whose fake Stripe forgets everything before each test: the oracle runs at the end of each
 * test over the orders that test created (in the tenants given), while the fake still knows their
 * intents. A test that forces a state by SQL that no code path produces (to see what the code does
 * with it) calls `forged()`; its orders are not judged. `forged(orderId, …)` leaves out only those
 * orders, for a test whose other orders are real: stock is still checked per product, so whatever a
 * forged order holds must still be conserved.
 */
export function invariantsAfterEachTest(
  tenantIds: () => readonly string[],
  fake?: () => { url: string; paymentIntents(): readonly FakeIntentView[] },
): { forged(...orderIds: string[]): void } {
  let since = '';
  let forged = false;
  const forgedOrders = new Set<string>();
  beforeEach(async () => {
    forged = false;
    forgedOrders.clear();
    const { rows } = await testPool().query<{ now: string }>(`select clock_timestamp()::text as now`);
    since = rows[0]!.now;
  });
  afterEach(async (context) => {
    if (forged || context.task.result?.state === 'fail') return;
    const { rows } = await testPool().query<{ id: string }>(
      `select id from orders where tenant_id = any($1::uuid[]) and created_at >= $2::timestamptz`,
      [tenantIds(), since],
    );
    const orderIds = rows.map((r) => r.id).filter((id) => !forgedOrders.has(id));
    if (orderIds.length === 0) return;
    await expectInvariants(tenantIds(), {
      ...(fake ? { fake: fake() } : {}),
      orderIds,
    });
  });
  return {
    forged: (...orderIds: string[]) => {
      if (orderIds.length === 0) forged = true;
      for (const id of orderIds) forgedOrders.add(id);
    },
  };
}

import { beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { runUnitOfWork } from '../../../shared/db/unit-of-work.js';
import { InsufficientInventoryException } from '../../../shared/errors/index.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import type { DomainContext } from '../../../shared/services/context.js';
import {
  InventoryService,
  type ReservationLine,
} from '../../../shared/services/inventory/inventory-service.js';
import { sweepExpiredReservations } from '../../../shared/services/checkout/reservation-sweeper.js';
import { CheckoutSaga } from '../../../shared/services/checkout/checkout-saga.js';
import type { CheckoutInput } from '../../../shared/services/checkout/checkout-types.js';
import { StockLedgerService } from '../../../shared/services/inventory/stock-ledger-service.js';
import { useFakeStripe } from '../../support/fake-stripe.js';
import { createProduct, createTenant, testPool } from '../../fixtures/sample_data.js';
import { countQueries } from '../../../shared/db/query-counter.js';
import { createUser, type TestUser } from '../../fixtures/users.js';
import { insertOrder, invariantsAfterEachTest, orderRow, reservationStatuses, stockOf } from './helpers.js';

const { fake } = useFakeStripe({
  // More connections than the default 10, so more of the 200 attempts are in flight at once.
  env: { DATABASE_POOL_MAX: '40' },
});
let tenantId: string;
/** Tenants a test made besides the file's own (their products are checked too). */
const otherTenants: string[] = [];
let user: TestUser;
const saga = new CheckoutSaga(silentLogger);

function inventory<T>(
  fn: (service: InventoryService) => Promise<T>,
  mode: 'read' | 'write' = 'read',
): Promise<T> {
  return runUnitOfWork(mode, (em) => {
    const ctx: DomainContext = { em, tenantId, log: silentLogger, correlationId: randomUUID() };
    return fn(new InventoryService(ctx));
  });
}

const reserve = (orderId: string, lines: ReservationLine[], ttl = 600): Promise<void> =>
  inventory((s) => s.reserve(orderId, lines, ttl));

const checkoutOf = (orderId: string): CheckoutInput => ({ orderId, tenantId, paymentTimeoutSeconds: 900 });

beforeAll(async () => {
  tenantId = (await createTenant('Inventory shop')).id;
  user = await createUser(tenantId);
});

// The shared oracle after each test, over its orders and every product of the file's tenants so far:
// stock conserved against the reservations and the stock_movements ledger, each sale paid at the fake.
const invariants = invariantsAfterEachTest(() => [tenantId, ...otherTenants], fake);

describe('reservation under contention', () => {
  it('200 concurrent reservations for stock 50: exactly 50 succeed, stock never negative, conserved at every observation', async () => {
    const product = await createProduct(tenantId, { stock: 50 });
    const orders = await Promise.all(
      Array.from({ length: 200 }, () =>
        insertOrder(tenantId, user.id, [{ productId: product.id, quantity: 1 }]),
      ),
    );

    // An observer samples the row throughout: the invariant must hold at every instant, not just at the end.
    let observing = true;
    const observations: { available: number; reserved: number; sold: number }[] = [];
    const observer = (async () => {
      while (observing) {
        observations.push(await stockOf(product.id));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();

    const results = await Promise.allSettled(
      orders.map((id) => reserve(id, [{ productId: product.id, quantity: 1 }])),
    );
    observing = false;
    await observer;

    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const failed = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof InsufficientInventoryException,
    ).length;
    expect(ok).toBe(50);
    expect(failed).toBe(150);
    expect(await stockOf(product.id)).toEqual({ available: 0, reserved: 50, sold: 0 });
    expect(observations.length).toBeGreaterThan(3);
    for (const o of observations) {
      expect(o.available).toBeGreaterThanOrEqual(0);
      expect(o.available + o.reserved + o.sold).toBe(50);
    }
    const { rows } = await testPool().query<{ n: number }>(
      `select count(*)::int as n from reservations where product_id = $1 and status = 'active'`,
      [product.id],
    );
    expect(rows[0]!.n).toBe(50);
  });

  it('multi-line orders in opposite orders never deadlock and never oversell', async () => {
    const a = await createProduct(tenantId, { stock: 30 });
    const b = await createProduct(tenantId, { stock: 30 });
    const orders = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        insertOrder(
          tenantId,
          user.id,
          i % 2 === 0
            ? [
                { productId: a.id, quantity: 1 },
                { productId: b.id, quantity: 1 },
              ]
            : [
                { productId: b.id, quantity: 1 },
                { productId: a.id, quantity: 1 },
              ],
        ),
      ),
    );
    const results = await Promise.allSettled(
      orders.map((id, i) =>
        reserve(
          id,
          i % 2 === 0
            ? [
                { productId: a.id, quantity: 1 },
                { productId: b.id, quantity: 1 },
              ]
            : [
                { productId: b.id, quantity: 1 },
                { productId: a.id, quantity: 1 },
              ],
        ),
      ),
    );
    const rejected = results.filter((r) => r.status === 'rejected');
    for (const r of rejected)
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(InsufficientInventoryException);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(30);
    expect(await stockOf(a.id)).toEqual({ available: 0, reserved: 30, sold: 0 });
    expect(await stockOf(b.id)).toEqual({ available: 0, reserved: 30, sold: 0 });
  });
});

describe('all or nothing', () => {
  it('a shortfall on one line reserves nothing for any line', async () => {
    const plenty = await createProduct(tenantId, { stock: 100 });
    const scarce = await createProduct(tenantId, { stock: 1 });
    const lines = [
      { productId: plenty.id, quantity: 5 },
      { productId: scarce.id, quantity: 2 },
    ];
    const orderId = await insertOrder(tenantId, user.id, lines);
    const error = await reserve(orderId, lines).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientInventoryException);
    expect((error as InsufficientInventoryException).productId).toBe(scarce.id);
    expect((error as InsufficientInventoryException).available).toBe(1);
    expect(await stockOf(plenty.id)).toEqual({ available: 100, reserved: 0, sold: 0 });
    expect(await stockOf(scarce.id)).toEqual({ available: 1, reserved: 0, sold: 0 });
    expect(await reservationStatuses(orderId)).toEqual([]);
  });

  it('inside a caller’s transaction, the shortfall rolls back with it', async () => {
    const plenty = await createProduct(tenantId, { stock: 10 });
    const scarce = await createProduct(tenantId, { stock: 0 });
    const lines = [
      { productId: plenty.id, quantity: 1 },
      { productId: scarce.id, quantity: 1 },
    ];
    const orderId = await insertOrder(tenantId, user.id, lines);
    await expect(inventory((s) => s.reserve(orderId, lines, 60), 'write')).rejects.toBeInstanceOf(
      InsufficientInventoryException,
    );
    expect(await stockOf(plenty.id)).toEqual({ available: 10, reserved: 0, sold: 0 });
  });
});

describe('outside or inside a caller’s transaction', () => {
  it.each([
    ['outside one, the reservation is its own statement: a later failure keeps it', 'read', 3, ['active']],
    ['inside one, the reservation joins it: a later failure rolls it back', 'write', 5, []],
  ] as const)('%s', async (_name, mode, available, statuses) => {
    const product = await createProduct(tenantId, { stock: 5 });
    const lines = [{ productId: product.id, quantity: 2 }];
    const orderId = await insertOrder(tenantId, user.id, lines);
    const failLater = async (s: InventoryService): Promise<never> => {
      await s.reserve(orderId, lines, 60);
      throw new Error('later failure');
    };
    await expect(inventory(failLater, mode)).rejects.toThrow('later failure');
    expect(await stockOf(product.id)).toEqual({ available, reserved: 5 - available, sold: 0 });
    expect(await reservationStatuses(orderId)).toEqual(statuses);
  });
});

/** Two products of the tenant, the first sorting before the second (the order locks are taken in). */
async function orderedPair(first: number, second: number): Promise<[string, string]> {
  const a = (await createProduct(tenantId, { stock: first })).id;
  const b = (await createProduct(tenantId, { stock: second })).id;
  if (a < b) return [a, b];
  // Swapped as an admin's stock adjustment would be, with its ledger rows, so stock stays conserved.
  await runUnitOfWork('write', async (em) => {
    const ctx: DomainContext = { em, tenantId, log: silentLogger, correlationId: randomUUID() };
    const ledger = new StockLedgerService(ctx);
    await ledger.adjust(a, second - first, 'test: lock-order pair');
    await ledger.adjust(b, first - second, 'test: lock-order pair');
  });
  return [b, a];
}

describe('one statement per reservation', () => {
  it('reserves a three-line order in one statement', async () => {
    const ids = await Promise.all([1, 2, 3].map(() => createProduct(tenantId, { stock: 5 })));
    const lines = ids.map((p) => ({ productId: p.id, quantity: 2 }));
    const orderId = await insertOrder(tenantId, user.id, lines);
    const { queries } = await countQueries(() => reserve(orderId, lines));
    expect(queries).toBe(1);
    expect(await reservationStatuses(orderId)).toEqual(['active', 'active', 'active']);
    for (const p of ids) expect(await stockOf(p.id)).toEqual({ available: 3, reserved: 2, sold: 0 });
  });

  it('a shortfall on a later line gives back what the same call took on earlier lines', async () => {
    const [plenty, scarce] = await orderedPair(100, 1);
    const lines = [
      { productId: scarce, quantity: 2 },
      { productId: plenty, quantity: 5 },
    ];
    const orderId = await insertOrder(tenantId, user.id, lines);
    const error = await reserve(orderId, lines).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientInventoryException);
    expect((error as InsufficientInventoryException).productId).toBe(scarce);
    expect((error as InsufficientInventoryException).available).toBe(1);
    expect(await stockOf(plenty)).toEqual({ available: 100, reserved: 0, sold: 0 });
    expect(await stockOf(scarce)).toEqual({ available: 1, reserved: 0, sold: 0 });
    expect(await reservationStatuses(orderId)).toEqual([]);
  });

  it('inside a caller’s transaction that goes on and commits, a shortfall has reserved nothing', async () => {
    const [plenty, scarce] = await orderedPair(10, 0);
    const lines = [
      { productId: plenty, quantity: 1 },
      { productId: scarce, quantity: 1 },
    ];
    const orderId = await insertOrder(tenantId, user.id, lines);
    const outcome = await inventory(async (s) => {
      const error = await s.reserve(orderId, lines, 60).catch((e: unknown) => e);
      // The transaction is still usable after the shortfall.
      const other = await insertOrder(tenantId, user.id, [{ productId: plenty, quantity: 1 }]);
      await s.reserve(other, [{ productId: plenty, quantity: 1 }], 60);
      return error;
    }, 'write');
    expect(outcome).toBeInstanceOf(InsufficientInventoryException);
    expect(await reservationStatuses(orderId)).toEqual([]);
    expect(await stockOf(plenty)).toEqual({ available: 9, reserved: 1, sold: 0 });
    expect(await stockOf(scarce)).toEqual({ available: 0, reserved: 0, sold: 0 });
  });

  it('a reservation that read enough stock but lost the last unit to another holds nothing', async () => {
    const product = await createProduct(tenantId, { stock: 1 });
    const lines = [{ productId: product.id, quantity: 1 }];
    const orderId = await insertOrder(tenantId, user.id, lines);
    const rivalOrderId = await insertOrder(tenantId, user.id, lines);
    // Another order's reservation takes the last unit and holds the row until after our read of the stock.
    const rival = await testPool().connect();
    try {
      await rival.query('begin');
      await rival.query(`select * from reserve_stock($1, $2, array[$3]::uuid[], array[1], 600)`, [
        tenantId,
        rivalOrderId,
        product.id,
      ]);
      const attempt = reserve(orderId, lines).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 300));
      await rival.query('commit');
      const error = await attempt;
      expect(error).toBeInstanceOf(InsufficientInventoryException);
      expect((error as InsufficientInventoryException).available).toBe(0);
    } finally {
      rival.release();
    }
    expect(await reservationStatuses(orderId)).toEqual([]);
    expect(await reservationStatuses(rivalOrderId)).toEqual(['active']);
    expect(await stockOf(product.id)).toEqual({ available: 0, reserved: 1, sold: 0 });
  });

  it('refuses lines that are not in ascending product-id order (the lock order)', async () => {
    const [a, b] = await orderedPair(5, 5);
    const orderId = await insertOrder(tenantId, user.id, [
      { productId: a, quantity: 1 },
      { productId: b, quantity: 1 },
    ]);
    await expect(
      testPool().query(`select * from reserve_stock($1, $2, array[$3, $4]::uuid[], array[1, 1], 60)`, [
        tenantId,
        orderId,
        b,
        a,
      ]),
    ).rejects.toThrow(/ascending order/);
    expect(await stockOf(a)).toEqual({ available: 5, reserved: 0, sold: 0 });
  });

  it('holds nothing for a product of another tenant', async () => {
    const other = await createTenant('Other shop');
    otherTenants.push(other.id);
    const foreign = await createProduct(other.id, { stock: 10 });
    const lines = [{ productId: foreign.id, quantity: 1 }];
    const orderId = await insertOrder(tenantId, user.id, lines);
    const error = await reserve(orderId, lines).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientInventoryException);
    expect((error as InsufficientInventoryException).available).toBe(0);
    expect(await stockOf(foreign.id)).toEqual({ available: 10, reserved: 0, sold: 0 });
  });
});

describe('idempotency', () => {
  it('a re-run after the stock ran out is still a no-op for the order holding it', async () => {
    const product = await createProduct(tenantId, { stock: 2 });
    const lines = [{ productId: product.id, quantity: 2 }];
    const orderId = await insertOrder(tenantId, user.id, lines);
    await reserve(orderId, lines);
    await reserve(orderId, lines);
    expect(await stockOf(product.id)).toEqual({ available: 0, reserved: 2, sold: 0 });
    expect(await reservationStatuses(orderId)).toEqual(['active']);
  });

  it('never reserves again for an order whose reservation was released', async () => {
    const product = await createProduct(tenantId, { stock: 5 });
    const lines = [{ productId: product.id, quantity: 1 }];
    const orderId = await insertOrder(tenantId, user.id, lines);
    await reserve(orderId, lines);
    await inventory((s) => s.release(orderId));
    const error = await reserve(orderId, lines).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(InsufficientInventoryException);
    expect((error as Error).message).toMatch(/already released/);
    expect(await stockOf(product.id)).toEqual({ available: 5, reserved: 0, sold: 0 });
    expect(await reservationStatuses(orderId)).toEqual(['released']);
  });

  it('re-running a reservation holds the stock once; concurrent re-runs too', async () => {
    const product = await createProduct(tenantId, { stock: 10 });
    const lines = [{ productId: product.id, quantity: 3 }];
    const orderId = await insertOrder(tenantId, user.id, lines);
    await reserve(orderId, lines);
    await reserve(orderId, lines);
    // Concurrent runs for the same order wait for the first one and are then no-ops: none fails.
    await Promise.all(Array.from({ length: 8 }, () => reserve(orderId, lines)));
    expect(await stockOf(product.id)).toEqual({ available: 7, reserved: 3, sold: 0 });

    const fresh = await insertOrder(tenantId, user.id, lines);
    await Promise.all(Array.from({ length: 8 }, () => reserve(fresh, lines)));
    expect(await stockOf(product.id)).toEqual({ available: 4, reserved: 6, sold: 0 });
    expect(await reservationStatuses(fresh)).toEqual(['active']);
  });

  it('commit and release move stock exactly once, even when racing each other', async () => {
    const product = await createProduct(tenantId, { stock: 10 });
    const lines = [{ productId: product.id, quantity: 4 }];
    const toCommit = await insertOrder(tenantId, user.id, lines);
    const toRelease = await insertOrder(tenantId, user.id, lines);
    // The saga's steps around the calls under test, so both orders end as checkout leaves them: the
    // committed one paid at the fake Stripe and confirmed, the released one closed.
    expect(await saga.reserve(checkoutOf(toCommit))).toEqual({ outcome: 'reserved' });
    expect(await saga.reserve(checkoutOf(toRelease))).toEqual({ outcome: 'reserved' });
    expect(await stockOf(product.id)).toEqual({ available: 2, reserved: 8, sold: 0 });
    const created = await saga.createIntent(checkoutOf(toCommit));
    if (created.outcome !== 'created') throw new Error(`no intent: ${JSON.stringify(created)}`);
    expect(await saga.confirm({ ...checkoutOf(toCommit), paymentIntentId: created.paymentIntentId })).toEqual(
      { outcome: 'succeeded' },
    );

    const commits = await Promise.all(Array.from({ length: 5 }, () => inventory((s) => s.commit(toCommit))));
    expect(commits.flat()).toEqual([product.id]);
    const releases = await Promise.all(
      Array.from({ length: 5 }, () => inventory((s) => s.release(toRelease))),
    );
    expect(releases.flat()).toEqual([product.id]);
    // The steps that follow in checkout find the stock already moved and move none.
    expect(await saga.finalize(checkoutOf(toCommit))).toEqual({ outcome: 'confirmed' });
    expect(
      await saga.release({ ...checkoutOf(toRelease), status: 'expired', reason: 'reservation_expired' }),
    ).toEqual({ outcome: 'closed', moved: true, released: [] });
    // A late release of a committed order and a late commit of a released one change nothing.
    expect(await inventory((s) => s.release(toCommit))).toEqual([]);
    expect(await inventory((s) => s.commit(toRelease))).toEqual([]);

    expect(await stockOf(product.id)).toEqual({ available: 6, reserved: 0, sold: 4 });
    expect(await reservationStatuses(toCommit)).toEqual(['committed']);
    expect(await reservationStatuses(toRelease)).toEqual(['released']);
  });
});

describe('reservation sweeper', () => {
  it('releases expired reservations of unpaid orders and expires them; paid orders and live reservations are left alone', async () => {
    const product = await createProduct(tenantId, { stock: 20 });
    const lines = [{ productId: product.id, quantity: 2 }];
    const abandoned = await insertOrder(tenantId, user.id, lines);
    const paid = await insertOrder(tenantId, user.id, lines);
    const live = await insertOrder(tenantId, user.id, lines);
    // Abandoned as checkout leaves it: reserved, its PaymentIntent created at the fake and never paid.
    expect(await saga.reserve(checkoutOf(abandoned))).toEqual({ outcome: 'reserved' });
    expect(await saga.createIntent(checkoutOf(abandoned))).toMatchObject({ outcome: 'created' });
    await reserve(paid, lines, 5);
    await reserve(live, lines, 3600);
    // `paid` is never committed by any step (finalize goes on to confirmed in the same transaction):
    // set by SQL to see the sweeper leave it alone, so it is left out of the invariant check.
    invariants.forged(paid);
    await testPool().query(`update orders set status = 'paid' where id = $1`, [paid]);
    // Backdate the expiry instead of sleeping through it.
    await testPool().query(
      `update reservations set expires_at = now() - interval '1 minute' where order_id in ($1, $2)`,
      [abandoned, paid],
    );

    // The sweeper and a concurrent release of the same order: the stock moves back exactly once,
    // whichever of the two gets there first.
    const [sweep, releasedByOther] = await Promise.all([
      sweepExpiredReservations(silentLogger, { tenantId }),
      inventory((s) => s.release(abandoned)),
    ]);
    expect(sweep.released + releasedByOther.length).toBe(1);
    expect(await reservationStatuses(abandoned)).toEqual(['released']);
    // The sweep closes the order when it found the expired reservation (the other release may have
    // taken it first; a real compensation then closes the order itself).
    const closedBySweep = sweep.orders === 1;
    expect((await orderRow(abandoned)).status).toBe(closedBySweep ? 'expired' : 'awaiting_payment');
    if (closedBySweep) expect((await orderRow(abandoned)).failure_reason).toBe('reservation_expired');
    expect(await reservationStatuses(paid)).toEqual(['active']);
    expect(await reservationStatuses(live)).toEqual(['active']);
    expect(await stockOf(product.id)).toEqual({ available: 16, reserved: 4, sold: 0 });

    // Idempotent: a second sweep finds nothing of ours to do.
    await sweepExpiredReservations(silentLogger, { tenantId });
    expect(await stockOf(product.id)).toEqual({ available: 16, reserved: 4, sold: 0 });
    const { rows } = await testPool().query<{ n: number }>(
      `select count(*)::int as n from audit_outbox where entity_id = $1 and action = 'status:expired'`,
      [abandoned],
    );
    expect(rows[0]!.n).toBe(closedBySweep ? 1 : 0);
  });
});

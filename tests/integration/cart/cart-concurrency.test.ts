import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeOrms } from '../../../shared/db/orm.js';
import {
  closeTestPool,
  createProduct,
  createTenant,
  testPool,
  type CreatedProduct,
} from '../../fixtures/sample_data.js';
import { authHeaders, createUser, type TestUser } from '../../fixtures/users.js';
import type { InvokeResult } from '../../support/http.js';
import { deleteItem, emptyCart, putItem, quantities, readCart, storedCart, type Headers } from './helpers.js';

/**
 * Every request below is a real handler invocation with its own unit of work (own EntityManager fork,
 * own transaction, own pooled connection), started together with Promise.all against the real
 * PostgreSQL, so they interleave inside the database.
 */

// A DELETE of a line is recorded as quantity 0 with `remove`: both leave no line for the product.
type Write = { productId: string; quantity: number; remove?: true } | { clear: true };
type Lines = Record<string, number>;

function apply(state: Lines, write: Write): Lines {
  if ('clear' in write) return {};
  const next = { ...state };
  if (write.quantity === 0) delete next[write.productId];
  else next[write.productId] = write.quantity;
  return next;
}

/**
 * Linearizability check: replaying the successful writes in the order of the versions they returned
 * must give, after each write, exactly the lines that write's response showed — and, at the end, what
 * is stored. Any lost, duplicated or reordered write breaks one of these equalities.
 */
function replay(
  results: { write: Write; res: InvokeResult }[],
  initial: Lines,
  initialVersion: number,
): Lines {
  const ok = results
    .filter((r) => r.res.status === 200)
    .sort((a, b) => a.res.json.version - b.res.json.version);
  let state = initial;
  let expectedVersion = initialVersion;
  for (const { write, res } of ok) {
    expectedVersion += 1;
    // Versions strictly increase by one per successful change: none skipped, none shared.
    expect(res.json.version).toBe(expectedVersion);
    expect(res.headers.get('etag')).toBe(`"v${expectedVersion}"`);
    state = apply(state, write);
    expect(quantities(res.json)).toEqual(state);
  }
  return state;
}

describe('cart under concurrent requests from one user', () => {
  let tenant: { id: string };
  let products: CreatedProduct[];
  let euro: CreatedProduct;

  async function customer(): Promise<{ user: TestUser; headers: Headers }> {
    const user = await createUser(tenant.id);
    return { user, headers: await authHeaders(user) };
  }

  beforeAll(async () => {
    tenant = await createTenant('Cart concurrency shop');
    products = [];
    for (let i = 0; i < 10; i++) {
      products.push(await createProduct(tenant.id, { name: `P${i}`, priceCents: 100 * (i + 1), stock: 99 }));
    }
    euro = await createProduct(tenant.id, { name: 'Euro', priceCents: 500, currency: 'EUR', stock: 99 });
  });

  afterAll(async () => {
    await closeOrms();
    await closeTestPool();
  });

  it('50 concurrent PUTs over 10 products: last write per product wins, no duplicates, distinct increasing versions', async () => {
    for (let round = 0; round < 3; round++) {
      const { user, headers } = await customer();
      // Deterministic pseudo-random writes, including removals (quantity 0), on a cart that does not
      // exist yet — so the first writes also race to create it.
      const writes: Write[] = Array.from({ length: 50 }, (_, i) => ({
        productId: products[(i * 7 + round) % 10]!.id,
        quantity: (i * 13 + round * 5) % 6,
      }));
      const results = await Promise.all(
        writes.map(async (write) => ({
          write,
          res: await putItem(
            headers,
            (write as { productId: string }).productId,
            (write as { quantity: number }).quantity,
          ),
        })),
      );

      // Concurrent first writes do not fail: every write succeeds.
      expect(results.map((r) => r.res.status)).toEqual(writes.map(() => 200));
      const versions = results.map((r) => r.res.json.version as number);
      expect(new Set(versions).size).toBe(50);
      expect(Math.min(...versions)).toBe(1);
      expect(Math.max(...versions)).toBe(50);

      const expected = replay(results, {}, 0);

      // Per product, the response with the highest version decides the final quantity.
      const lastByProduct = new Map<string, { version: number; quantity: number }>();
      for (const { write, res } of results) {
        const w = write as { productId: string; quantity: number };
        const seen = lastByProduct.get(w.productId);
        if (!seen || res.json.version > seen.version) {
          lastByProduct.set(w.productId, { version: res.json.version, quantity: w.quantity });
        }
      }
      const lastWrites = Object.fromEntries(
        [...lastByProduct].filter(([, v]) => v.quantity > 0).map(([id, v]) => [id, v.quantity]),
      );
      expect(expected).toEqual(lastWrites);

      const final = await readCart(headers);
      expect(final.json.version).toBe(50);
      expect(quantities(final.json)).toEqual(lastWrites);
      expect(final.json.lines).toHaveLength(Object.keys(lastWrites).length);

      const stored = await storedCart(tenant.id, user.id);
      expect(stored.carts).toBe(1);
      expect(stored.version).toBe(50);
      expect(stored.rows).toBe(Object.keys(lastWrites).length); // one row per product: no duplicates
      expect(stored.lines).toEqual(lastWrites);
    }
  });

  it('concurrent PUTs, line DELETEs and DELETE /cart mixed: the versions give a serial history that explains every answer', async () => {
    for (let round = 0; round < 3; round++) {
      const { user, headers } = await customer();
      const writes: Write[] = Array.from({ length: 30 }, (_, i): Write => {
        if (i % 11 === 5) return { clear: true };
        const productId = products[(i * 3 + round) % 4]!.id;
        return i % 4 === 1
          ? { productId, quantity: 0, remove: true }
          : { productId, quantity: 1 + ((i + round) % 9) };
      });
      const results = await Promise.all(
        writes.map(async (write) => {
          if ('clear' in write) return { write, res: await emptyCart(headers) };
          if (write.remove) return { write, res: await deleteItem(headers, write.productId) };
          return { write, res: await putItem(headers, write.productId, write.quantity) };
        }),
      );
      expect(results.every((r) => r.res.status === 200)).toBe(true);
      const expected = replay(results, {}, 0);
      const stored = await storedCart(tenant.id, user.id);
      expect(stored).toEqual({ carts: 1, version: 30, rows: Object.keys(expected).length, lines: expected });
    }
  });

  it('concurrent If-Match writers holding the same ETag: exactly one wins, the others get 412', async () => {
    for (let round = 0; round < 5; round++) {
      const { user, headers } = await customer();
      const base = await putItem(headers, products[0]!.id, 1);
      const etag = base.headers.get('etag')!;
      const writes: Write[] = products.slice(1).map((p, i) => ({ productId: p.id, quantity: i + 1 }));
      writes.push({ clear: true });
      const results = await Promise.all(
        writes.map(async (write) => {
          const h = { ...headers, 'if-match': etag };
          const res =
            'clear' in write ? await emptyCart(h) : await putItem(h, write.productId, write.quantity);
          return { write, res };
        }),
      );
      const winners = results.filter((r) => r.res.status === 200);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => r.res.status === 412)).toHaveLength(writes.length - 1);

      const expected = apply({ [products[0]!.id]: 1 }, winners[0]!.write);
      expect(replay(results, { [products[0]!.id]: 1 }, 1)).toEqual(expected);
      const stored = await storedCart(tenant.id, user.id);
      expect(stored.version).toBe(2);
      expect(stored.lines).toEqual(expected);
    }
  });

  it('concurrent If-Match writers on a cart that does not exist yet ("v0"): exactly one creates it', async () => {
    const { user, headers } = await customer();
    const results = await Promise.all(
      products.map(async (p) => ({
        write: { productId: p.id, quantity: 2 } as Write,
        res: await putItem({ ...headers, 'if-match': '"v0"' }, p.id, 2),
      })),
    );
    expect(results.filter((r) => r.res.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.res.status === 412)).toHaveLength(products.length - 1);
    const winner = results.find((r) => r.res.status === 200)!;
    expect(await storedCart(tenant.id, user.id)).toEqual({
      carts: 1,
      version: 1,
      rows: 1,
      lines: apply({}, winner.write),
    });
  });

  it('concurrent DELETE /cart and PUTs end in one of the serial outcomes', async () => {
    for (let round = 0; round < 8; round++) {
      const { user, headers } = await customer();
      await putItem(headers, products[0]!.id, 3);
      await putItem(headers, products[1]!.id, 4);
      const initial = { [products[0]!.id]: 3, [products[1]!.id]: 4 };
      const writes: Write[] = [
        { clear: true },
        { productId: products[2]!.id, quantity: 2 },
        { productId: products[0]!.id, quantity: 5 },
      ];
      const results = await Promise.all(
        writes.map(async (write) => ({
          write,
          res:
            'clear' in write
              ? await emptyCart(headers)
              : await putItem(headers, write.productId, write.quantity),
        })),
      );
      expect(results.map((r) => r.res.status)).toEqual([200, 200, 200]);

      // The serial outcomes of these three writes (all 6 orders), computed without the database.
      const orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
      ];
      const serial = orders.map((o) =>
        JSON.stringify(sorted(o.reduce((s, i) => apply(s, writes[i]!), initial))),
      );
      const final = sorted((await storedCart(tenant.id, user.id)).lines);
      expect(serial).toContain(JSON.stringify(final));
      // The three writes got versions 3, 4 and 5 (the cart was at 2): their order is the serial order…
      const byVersion = results
        .map((r, i) => ({ i, version: r.res.json.version as number }))
        .sort((a, b) => a.version - b.version);
      expect(byVersion.map((r) => r.version)).toEqual([3, 4, 5]);
      // …and the stored cart is exactly that order's serial outcome, as the replay of the answers says.
      const order = byVersion.map((r) => r.i);
      expect(JSON.stringify(final)).toBe(serial[orders.findIndex((o) => o.join() === order.join())]);
      expect(sorted(replay(results, initial, 2))).toEqual(final);
      expect(sorted(quantities((await readCart(headers)).json))).toEqual(final);
    }
  });

  it('concurrent writes in two currencies to an empty cart: one gets in, the other gets 409', async () => {
    for (let round = 0; round < 5; round++) {
      const { user, headers } = await customer();
      const [usd, eur] = await Promise.all([
        putItem(headers, products[0]!.id, 1),
        putItem(headers, euro.id, 1),
      ]);
      expect([usd.status, eur.status].sort()).toEqual([200, 409]);
      const stored = await storedCart(tenant.id, user.id);
      expect(stored.rows).toBe(1);
      expect(stored.version).toBe(1);
      const cart = (await readCart(headers)).json;
      expect(cart.currency).toBe(usd.status === 200 ? 'USD' : 'EUR');
    }
  });

  it('runs the invocations truly concurrently (several transactions open at once)', async () => {
    const { user, headers } = await customer();
    // Hold the cart row lock from outside, then start writers: they must all be waiting inside the
    // database at the same time — proof that each has its own connection and transaction.
    await putItem(headers, products[0]!.id, 1);
    const blocker = await testPool().connect();
    try {
      await blocker.query('begin');
      await blocker.query('select 1 from carts where user_id = $1 for update', [user.id]);
      const pending = Promise.all(products.slice(0, 5).map((p) => putItem(headers, p.id, 2)));
      let waiting = 0;
      for (let i = 0; i < 100 && waiting < 5; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const { rows } = await testPool().query<{ n: string }>(
          `select count(*) as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and query like '%' || $1 || '%'`,
          [user.id], // statements are sent with their values inlined, so the user id names our writers
        );
        waiting = Number(rows[0]!.n);
      }
      expect(waiting).toBe(5);
      await blocker.query('commit');
      const results = await pending;
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(new Set(results.map((r) => r.json.version)).size).toBe(5);
    } finally {
      blocker.release();
    }
  });
});

function sorted(lines: Lines): Lines {
  return Object.fromEntries(Object.entries(lines).sort(([a], [b]) => a.localeCompare(b)));
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { FakeStripe } from '../../infra/fake-stripe/server.js';
import { createProduct, createTenant } from '../fixtures/sample_data.js';
import { ADMIN_PG_URL } from '../setup/test-env.js';
import { sleep, terminateBackends, withApplicationName } from '../support/faults.js';
import type { HostProcess } from '../support/host-process.js';
import type { OwnDatabases } from './support/databases.js';
import { expectSettledInvariants, spawnHostOn, startOwnStack, stopOwnStack } from './support/own-host.js';
import { placeOrder, shopperWithCart, shopThrough, waitSettled, type Shop } from './support/shop.js';

/**
 * Regression for issue #10's finding: PostgreSQL terminating a durable-store connection
 * (pg_terminate_backend, failover, restart) killed the local host with "Unhandled 'error' event …
 * 57P01". pg emits 'error' on a client whose backend went away, also between statements and right
 * after `pool.connect()` handed it out (ReadyForQuery and the FATAL in one TCP chunk: pg-pool has
 * already removed its listener and the caller's is not attached yet). The store now gives every
 * client a permanent listener when it is created (infra/host/durable/store.ts `guardPool`).
 *
 * 1. Only the durable store's sessions (application_name `durable-host`) are killed, over and over,
 *    while checkouts run: the host lives, never needs infra/host/cli.ts's process-wide last resort
 *    for lost connections (it prints "database connection lost"), logs SQLSTATEs and no statement
 *    text, and every order still ends confirmed.
 * 2. Every backend of the host's database is killed (domain pool too), as in the original report.
 */

const DURABLE_APPLICATION_NAME = 'durable-host';
const CLI_FALLBACK = 'database connection lost (';

let dbs: OwnDatabases;
let fake: FakeStripe;
let host: HostProcess;
let admin: pg.Pool;
let pool: pg.Pool;
let shop: Shop;
let tenantId: string;
let productId: string;

beforeAll(async () => {
  ({ dbs, pool, fake } = await startOwnStack('crash', 2));
  admin = new pg.Pool({ connectionString: withApplicationName(ADMIN_PG_URL), max: 1 });
  admin.on('error', () => undefined);
  host = await spawnHostOn({ dbs, fake });
  tenantId = (await createTenant('Crash shop')).id;
  productId = (await createProduct(tenantId, { stock: 1_000 })).id;
  shop = shopThrough(tenantId, pool, () => host);
}, 120_000);

afterAll(() => stopOwnStack({ host, fake, pool, dbs }, () => admin?.end()), 60_000);

/**
 * The shared oracle once the orders settled and the audit relay drained: whatever the kills hit, every
 * confirmed order holds its money at the fake Stripe, every other order none, and the stock is conserved.
 */
const expectInvariantsHold = (): Promise<void> => expectSettledInvariants(shop, { dbs, fake });

/** Places `count` checkouts while `kill` runs every `everyMs` for `rounds` rounds; returns the order ids. */
async function checkoutsUnderFire(
  count: number,
  kill: () => Promise<number>,
  { rounds, everyMs }: { rounds: number; everyMs: number },
): Promise<{ orderIds: string[]; killed: number }> {
  const shoppers = await Promise.all(
    Array.from({ length: count }, () => shopperWithCart(shop, [{ productId, quantity: 1 }])),
  );
  const placing = Promise.all(
    shoppers.map((s) => placeOrder(shop, s, 'pm_card_visa', { deadlineMs: 30_000 })),
  );
  let killed = 0;
  for (let round = 0; round < rounds && host.alive(); round++) {
    killed += await kill();
    await sleep(everyMs);
  }
  const placed = await placing;
  return { orderIds: placed.map((p) => p.orderId), killed };
}

describe('the local host when PostgreSQL terminates its connections', () => {
  it("survives the durable store's own connections being killed, without the process-wide fallback", async () => {
    const { orderIds, killed } = await checkoutsUnderFire(
      12,
      () => terminateBackends(admin, { database: dbs.name, applicationName: DURABLE_APPLICATION_NAME }),
      { rounds: 20, everyMs: 150 },
    );
    expect(killed, 'the durable store had connections to kill').toBeGreaterThan(0);
    // Work on a killed connection is retried on a fresh one: nothing waits for a lease to lapse.
    const settled = await waitSettled(shop, orderIds, { timeoutMs: 90_000 });
    const output = host.output();
    expect(host.alive(), output.slice(-2_000)).toBe(true);
    expect(output).not.toContain(CLI_FALLBACK);
    expect(output).not.toMatch(/durable_host"?\.|insert into|update \S+ set|delete from/i);
    expect([...settled.values()].map((s) => s.status)).toEqual(orderIds.map(() => 'confirmed'));
    await expectInvariantsHold();
  }, 150_000);

  it('survives every backend of its database being killed while orchestrations run', async () => {
    const { orderIds, killed } = await checkoutsUnderFire(
      12,
      () => terminateBackends(admin, { database: dbs.name }),
      { rounds: 15, everyMs: 200 },
    );
    expect(killed).toBeGreaterThan(0);
    await waitSettled(shop, orderIds, { timeoutMs: 90_000 });
    await sleep(500);
    expect(host.alive(), host.output().slice(-2_000)).toBe(true);
    await expectInvariantsHold();
  }, 150_000);
});

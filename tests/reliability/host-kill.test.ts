import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { FakeStripe } from '../../infra/fake-stripe/server.js';
import { createProduct, createTenant } from '../fixtures/sample_data.js';
import { sleep, waitUntil } from '../support/faults.js';
import type { HostProcess } from '../support/host-process.js';
import { checkSettled } from '../support/invariants.js';
import type { OwnDatabases } from './support/databases.js';
import { spawnHostOn, startOwnStack, stopOwnStack } from './support/own-host.js';
import {
  drainAudit,
  FINAL_STATUSES,
  orderStatuses,
  placeOrder,
  shopperWithCart,
  shopThrough,
  waitSettled,
  type Shop,
} from './support/shop.js';

/**
 * The local host SIGKILLed while checkouts are mid-flight (no drain, no shutdown hooks: a crashed
 * instance), then started again on the same databases. The orchestrations' state lives in PostgreSQL:
 * the new process must resume every instance and finish it — same outcomes as without the crash, every
 * order final, nothing oversold, nothing charged twice, nothing left reserved, no audit row lost.
 *
 * Activities that were running when the process died are leased for 60 s (the host's lease, as in
 * Azure); they run again when the lease lapses, so this scenario takes a little over a minute.
 */

let dbs: OwnDatabases;
let fake: FakeStripe;
let host: HostProcess;
let pool: pg.Pool;

beforeAll(async () => {
  ({ dbs, pool, fake } = await startOwnStack('kill', 3));
  host = await spawnHostOn({ dbs, fake });
}, 120_000);

afterAll(() => stopOwnStack({ host, fake, pool, dbs }), 60_000);

describe('the host killed during checkouts and restarted', () => {
  it('resumes every orchestration and finishes it with the outcome it would have had', async () => {
    const tenantId = (await createTenant('Crash-restart shop')).id;
    const initialStock = new Map<string, number>();
    const scarce = (await createProduct(tenantId, { name: 'Scarce', stock: 6, priceCents: 4000 })).id;
    const plenty = (await createProduct(tenantId, { name: 'Plenty', stock: 500, priceCents: 700 })).id;
    initialStock.set(scarce, 6).set(plenty, 500);
    const shop: Shop = shopThrough(tenantId, pool, () => host);

    // 8 want the 6 scarce ones; 14 buy plenty (2 of them with a declined card).
    const plan = [
      ...Array.from({ length: 8 }, () => ({
        lines: [{ productId: scarce, quantity: 1 }],
        pm: 'pm_card_visa',
      })),
      ...Array.from({ length: 14 }, (_, i) => ({
        lines: [{ productId: plenty, quantity: 2 }],
        pm: i < 2 ? 'pm_card_chargeDeclined' : 'pm_card_visa',
      })),
    ];
    const shoppers = await Promise.all(plan.map((p) => shopperWithCart(shop, p.lines)));
    // Slow Stripe down so the kill lands while orchestrations are between steps and inside activities.
    fake.injectFault({
      method: 'POST',
      path: '/v1/payment_intents/*/confirm',
      kind: 'delay',
      ms: 800,
      times: 1000,
    });

    /** Confirms the fake is holding (the delay above): received, no answer sent yet. */
    const inFlightConfirms = (): number =>
      fake
        .requests()
        .filter(
          (r) =>
            r.method === 'POST' && r.path.endsWith('/confirm') && r.status === null && r.durationMs === null,
        ).length;
    const placing = Promise.all(
      plan.map((p, i) => placeOrder(shop, shoppers[i]!, p.pm, { deadlineMs: 90_000 })),
    );
    // Kill once several orders wait on Stripe's (slowed) confirm — charged or not, the answer not yet
    // recorded — while others are still being reserved. No fallback: if that moment never comes, the
    // scenario did not test a crash mid-flight and fails here.
    await waitUntil(
      'orders mid-flight',
      async () => {
        const { rows } = await pool.query<{ n: number }>(
          `select count(*)::int as n from orders where tenant_id = $1 and status = 'awaiting_payment'`,
          [tenantId],
        );
        return rows[0]!.n >= 4 && inFlightConfirms() >= 2 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const { rows: atKill } = await pool.query<{ status: string; n: number }>(
      'select status, count(*)::int as n from orders where tenant_id = $1 group by status',
      [tenantId],
    );
    // The host dies with these confirms in flight (the fake still holds them; no answer sent yet).
    const confirmsInFlight = inFlightConfirms();
    const killed = host;
    await killed.kill('SIGKILL');
    expect(killed.alive()).toBe(false);
    const open = atKill.filter((r) => !FINAL_STATUSES.includes(r.status)).reduce((n, r) => n + r.n, 0);
    expect(atKill.find((r) => r.status === 'awaiting_payment')?.n ?? 0).toBeGreaterThanOrEqual(4);
    expect(open).toBeGreaterThanOrEqual(4);
    expect(confirmsInFlight).toBeGreaterThan(0);
    fake.clearFaults();
    await sleep(300);
    host = await spawnHostOn({ dbs, fake });

    const placed = await placing;
    const ids = placed.map((p) => p.orderId);
    // No sweeper help: the orchestrations themselves must finish (reservation TTL is 20 minutes).
    const settled = await waitSettled(shop, ids, { timeoutMs: 110_000 });
    const outcome = new Map<string, number>();
    for (const o of settled.values()) {
      const key = `${o.status}${o.failureReason ? `/${o.failureReason}` : ''}`;
      outcome.set(key, (outcome.get(key) ?? 0) + 1);
    }
    console.log(
      `[host-kill] at the kill: ${JSON.stringify(Object.fromEntries(atKill.map((r) => [r.status, r.n])))}; ` +
        `confirms in flight at Stripe: ${confirmsInFlight}; client retries: ${placed.filter((p) => p.attempts.length > 1).length}; outcomes: ${JSON.stringify(Object.fromEntries(outcome))}`,
    );
    // Exactly what an uninterrupted run gives: 6 + 12 confirmed, 2 out of stock, 2 declined.
    expect(Object.fromEntries(outcome)).toEqual({
      confirmed: 18,
      'failed/insufficient_inventory': 2,
      'failed/payment_declined': 2,
    });
    // An order can be final before its instance is: a finalize that committed just before the kill
    // has its result recorded only when its lease lapses (60 s) and the activity runs again. So wait
    // for the instances themselves, past one lease, and then require every one of them Completed.
    const instanceStatuses = async (): Promise<Record<string, number>> => {
      const { rows } = await pool.query<{ status: string; n: number }>(
        `select status, count(*)::int as n from durable_host.instances where instance_id = any($1::text[]) group by status`,
        [ids],
      );
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    };
    const settledAt = Date.now();
    let lastSeen: Record<string, number> = {};
    const instances = await waitUntil(
      'every orchestration instance to finish',
      async () => {
        lastSeen = await instanceStatuses();
        return Object.keys(lastSeen).every((s) => ['Completed', 'Failed', 'Terminated'].includes(s))
          ? lastSeen
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; instances by status: ${JSON.stringify(lastSeen)}`);
    });
    console.log(`[host-kill] instances finished ${Date.now() - settledAt} ms after the orders were final`);
    expect(instances).toEqual({ Completed: ids.length });
    expect((await orderStatuses(pool, ids)).size).toBe(ids.length);

    await drainAudit(shop, 30_000);
    const report = await checkSettled(dbs, fake, { initialStock, tenantIds: [tenantId] });
    console.log(`[host-kill] invariants:\n${report.summary()}\n${JSON.stringify(report.figures)}`);
    expect(report.ok, report.summary()).toBe(true);
  }, 360_000);
});

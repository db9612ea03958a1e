import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestPool, createProduct, createTenant } from '../fixtures/sample_data.js';
import { ADMIN_PG_URL } from '../setup/test-env.js';
import { sleep } from '../support/faults.js';
import { spawnHost, type HostProcess } from '../support/host-process.js';
import { createOwnDatabases, tearDown, type OwnDatabases } from './support/databases.js';
import { burst, paced, percentile, timedGet } from './support/load.js';

/**
 * Issue 19, item 1, black-box through the compiled host (`npm run build` first):
 * - sessions opened on the app database per 1,000 GET /health (before: one per request, ≈ 1,000;
 *   target ≤ 10), read from pg_stat_database.sessions of a database only this host uses;
 * - product list p95 without a flood, under 200 GET /health per second, and under 200 GET
 *   /health/live per second (a request that touches nothing: the floor), in interleaved rounds of one
 *   run. Figures are printed as `[abuse-health] …` lines; ABUSE_HEALTH_FLOOD_PER_SECOND changes the rate.
 */
let dbs: OwnDatabases;
let host: HostProcess;
let admin: pg.Client;
let tenantId: string;

async function sessions(): Promise<number> {
  await admin.query('select pg_stat_clear_snapshot()');
  const { rows } = await admin.query<{ n: string }>(
    'select sessions as n from pg_stat_database where datname = $1',
    [dbs.name],
  );
  return Number(rows[0]!.n);
}

beforeAll(async () => {
  dbs = await createOwnDatabases('abuse_health');
  process.env.DATABASE_URL = dbs.appUrl;
  process.env.AUDIT_DATABASE_URL = dbs.auditUrl;
  admin = new pg.Client({ connectionString: ADMIN_PG_URL });
  await admin.connect();
  host = await spawnHost({
    env: { DATABASE_URL: dbs.appUrl, AUDIT_DATABASE_URL: dbs.auditUrl, LOG_LEVEL: 'warn' },
  });
  tenantId = (await createTenant('Abuse health shop')).id;
  for (let i = 0; i < 30; i++) await createProduct(tenantId, { name: `Lamp ${i}`, priceCents: 1000 + i });
}, 120_000);

afterAll(async () => {
  await tearDown([() => host?.stop(), () => admin?.end(), () => closeTestPool(), () => dbs?.drop()]);
}, 60_000);

describe('abuse: health floods', () => {
  it('1,000 health requests open at most 10 sessions on the app database', async () => {
    const health = async (): Promise<number> => (await timedGet(`${host.baseUrl}/health`)).status;
    expect(await health()).toBe(200);
    await sleep(1_500); // let the warm-up's sessions reach the statistics
    const before = await sessions();
    const statuses = await burst(1_000, 20, health);
    await sleep(1_500);
    const opened = (await sessions()) - before;
    console.log(
      `[abuse-health] sessions opened on the app database by 1000 GET /health: ${opened}; answers ${JSON.stringify([...statuses])}`,
    );
    expect(statuses.get(200)).toBe(1_000);
    expect(opened).toBeLessThanOrEqual(10);
  }, 60_000);

  it('keeps product list p95 under a health flood as low as under a flood of requests that touch nothing', async () => {
    const list = `${host.baseUrl}/products?pageSize=20`;
    const headers = { 'x-tenant-id': tenantId };
    for (let i = 0; i < 20; i++) await timedGet(list, headers); // warm: cache, pools, JIT
    // The attack: 200 concurrent health requests. Paced at 200/s (open loop, ≤ 200 in flight):
    // a closed loop of 200 clients measures only how fast this 2-core machine answers HTTP at all
    // (host and load generator share the cores).
    const perSecond = Number(process.env.ABUSE_HEALTH_FLOOD_PER_SECOND ?? 200);
    const samples: Record<'quiet' | 'health' | 'live', number[]> = { quiet: [], health: [], live: [] };
    const answers = new Map<string, number>();
    // One product list request every 50 ms in every phase, so each phase lasts as long whatever the
    // latency (a flood phase that ends early measures nothing).
    const sample = async (into: number[]): Promise<void> => {
      for (let i = 0; i < 40; i++) {
        const started = performance.now();
        const { ms, status } = await timedGet(list, headers);
        expect(status).toBe(200);
        into.push(ms);
        await sleep(Math.max(0, 50 - (performance.now() - started)));
      }
    };
    const flooded = async (path: '/health' | '/health/live', into: number[]): Promise<void> => {
      const f = paced(perSecond, 200, async () => (await timedGet(`${host.baseUrl}${path}`)).status);
      await sleep(300);
      await sample(into);
      for (const [status, n] of await f.stop())
        answers.set(`${path} ${status}`, (answers.get(`${path} ${status}`) ?? 0) + n);
    };
    // Interleaved rounds: quiet, readiness flood, liveness flood (the floor: any request at that rate).
    for (let round = 0; round < 4; round++) {
      await sample(samples.quiet);
      await flooded('/health', samples.health);
      await flooded('/health/live', samples.live);
    }
    const [quiet, health, live] = [samples.quiet, samples.health, samples.live].map((s) =>
      percentile(s, 95),
    ) as [number, number, number];
    console.log(
      `[abuse-health] product list p95: ${quiet.toFixed(1)} ms quiet; ${health.toFixed(1)} ms under ${perSecond} GET /health/s ` +
        `(${(health / quiet).toFixed(2)}× quiet); ${live.toFixed(1)} ms under ${perSecond} GET /health/live/s ` +
        `(${(live / quiet).toFixed(2)}× quiet); health/live ${(health / live).toFixed(2)}; answers ${JSON.stringify([...answers])}`,
    );
    expect([...answers.keys()].every((k) => k.endsWith(' 200'))).toBe(true);
    // Readiness under flood costs the API about what the cheapest possible request does. The bound is
    // 2× the liveness floor, not tighter: p95 of 160 samples on a shared 2-core machine moves ±50 %
    // between identical runs. A probe that connects per request (the bug) misses it by far.
    expect(health).toBeLessThanOrEqual(2 * live);
  }, 90_000);
});

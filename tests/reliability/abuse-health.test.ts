import os from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestPool, createProduct, createTenant } from '../fixtures/sample_data.js';
import { ADMIN_PG_URL } from '../setup/test-env.js';
import { sleep } from '../support/faults.js';
import { spawnHost, type HostProcess } from '../support/host-process.js';
import { createOwnDatabases, tearDown, type OwnDatabases } from './support/databases.js';
import { forkFlood, type FloodReport } from '../support/flood.js';
import { burst, percentile, timedGet } from './support/load.js';

/**
 * Issue 19, item 1, black-box through the compiled host (`npm run build` first):
 * - sessions opened on the app database per 1,000 GET /health (before: one per request, ≈ 1,000;
 *   target ≤ 10), read from pg_stat_database.sessions of a database only this host uses;
 * - product list p95 under 200 GET /health per second (sent from a lower-priority process of its own)
 *   against the p95 without, in interleaved rounds of one run; target ≤ 1.5×. Figures are printed as
 *   `[abuse-health] …` lines; ABUSE_HEALTH_FLOOD_PER_SECOND and ABUSE_HEALTH_ROUNDS change the rate
 *   and the number of rounds.
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

  it('keeps product list p95 under a health flood within 1.5× of the p95 without one', async () => {
    const list = `${host.baseUrl}/products?pageSize=20`;
    const headers = { 'x-tenant-id': tenantId };
    for (let i = 0; i < 20; i++) await timedGet(list, headers); // warm: cache, pools, JIT
    // The issue's attack: 200 concurrent health requests. Paced at 200/s (open loop, ≤ 200 in flight):
    // a closed loop of 200 clients measures only how fast this 2-core machine answers HTTP at all.
    // The flood runs in a process of its own at lower CPU priority: on Azure the attacker's CPU is not
    // the instance's, and a generator on this process's event loop delayed the sampler's own requests
    // (the figure then measured the generator: 1.06× to 2.25× between runs).
    const perSecond = Number(process.env.ABUSE_HEALTH_FLOOD_PER_SECOND ?? 200);
    const rounds = Number(process.env.ABUSE_HEALTH_ROUNDS ?? 14);
    const flood = await forkFlood(`${host.baseUrl}/health`, perSecond, 200);
    // The host is scheduled ahead of the machine's unrelated work (other test files, other processes on
    // these two cores) for the measurement: an Azure instance's cores are its own, and on a saturated
    // shared machine every bit of extra work the host does costs it a place in the run queue, so the
    // tail measured the neighbours. Both phases get the same boost; the flood stays below the host, as
    // the attacker's CPU is elsewhere. Where raising a priority is not permitted, it runs as it is.
    const boost = Number(process.env.ABUSE_HEALTH_HOST_PRIORITY_BOOST ?? 10);
    const ownPriority = os.getPriority();
    let boosted = false;
    try {
      os.setPriority(host.pid, Math.max(-20, ownPriority - boost));
      boosted = boost > 0;
    } catch {
      // Not permitted (no CAP_SYS_NICE): measured without.
    }
    const samples = { quiet: [] as number[], flood: [] as number[] };
    const ratios: number[] = [];
    const reports: FloodReport[] = [];
    // One product list request every 25 ms in both phases, so each phase lasts as long whatever the
    // latency (a flood phase that ends early measures nothing).
    const sample = async (): Promise<number[]> => {
      const into: number[] = [];
      for (let i = 0; i < 60; i++) {
        const started = performance.now();
        const { ms, status } = await timedGet(list, headers);
        expect(status).toBe(200);
        into.push(ms);
        await sleep(Math.max(0, 25 - (performance.now() - started)));
      }
      return into;
    };
    const flooded = async (): Promise<number[]> => {
      await flood.start();
      await sleep(300);
      const got = await sample();
      reports.push(await flood.stop());
      return got;
    };
    // A round counts only if the flood really ran at the asked rate with no call skipped for want of
    // an answer: a round in which this shared 2-core machine gave the host too little CPU to answer 200
    // trivial requests a second (other test files, other processes) measures the machine, not the host
    // (an Azure instance's cores are its own). Such rounds are repeated, within a time budget; a host
    // that itself cannot keep up with the flood (a probe per request, the bug) has no counted round and
    // fails below.
    const valid = (r: FloodReport): boolean => r.skipped === 0 && r.achievedPerSecond >= 0.9 * perSecond;
    const budgetEnds = Date.now() + Number(process.env.ABUSE_HEALTH_BUDGET_SECONDS ?? 100) * 1000;
    let discarded = 0;
    try {
      // Rounds of a quiet and a flooded phase side by side (the order alternating), each round giving
      // one ratio of p95s: the machine's other load changes from second to second, and a round
      // compares phases a couple of seconds apart.
      for (let round = 0; ratios.length < rounds && Date.now() < budgetEnds; round++) {
        let quietRun: number[];
        let floodRun: number[];
        if (round % 2 === 0) {
          quietRun = await sample();
          floodRun = await flooded();
        } else {
          floodRun = await flooded();
          quietRun = await sample();
        }
        if (!valid(reports.at(-1)!)) {
          discarded++;
          continue;
        }
        samples.quiet.push(...quietRun);
        samples.flood.push(...floodRun);
        ratios.push(percentile(floodRun, 95) / percentile(quietRun, 95));
      }
    } finally {
      await flood.close();
      if (boosted) os.setPriority(host.pid, ownPriority);
    }
    const quiet = percentile(samples.quiet, 95);
    const flooded95 = percentile(samples.flood, 95);
    // The median round: one round whose quiet phase met a burst of someone else's work (or whose flood
    // phase did) does not decide the figure either way.
    const sorted = [...ratios].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    const ratio = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    const statuses = new Map<number, number>();
    for (const r of reports)
      for (const [status, n] of r.statuses) statuses.set(status, (statuses.get(status) ?? 0) + n);
    const counted = reports.filter(valid);
    const rate =
      counted.reduce((n, r) => n + r.achievedPerSecond * r.seconds, 0) /
      counted.reduce((n, r) => n + r.seconds, 0);
    console.log(
      `[abuse-health] product list p95 under ${rate.toFixed(0)} GET /health/s: ${ratio.toFixed(2)}× quiet ` +
        `(host priority ${boosted ? `raised by ${boost}` : 'as the test'}) ` +
        `(median of ${ratios.length} rounds' p95 ratios: ${ratios.map((r) => r.toFixed(2)).join(' ')}); ` +
        `pooled p95 ${flooded95.toFixed(1)} ms vs ${quiet.toFixed(1)} ms quiet (${(flooded95 / quiet).toFixed(2)}×); ` +
        `p50 ${percentile(samples.flood, 50).toFixed(1)} vs ${percentile(samples.quiet, 50).toFixed(1)} ms; ` +
        `${samples.quiet.length} samples each; ${discarded} rounds not counted (flood rates ${reports
          .filter((r) => !valid(r))
          .map((r) => `${r.achievedPerSecond.toFixed(0)}/s ${r.skipped} skipped`)
          .join(', ')}); /health answers ${JSON.stringify([...statuses])}`,
    );
    expect([...statuses.keys()]).toEqual([200]);
    // Enough rounds in which the host kept up with the flood at the asked rate.
    expect(ratios.length, 'rounds in which the host kept up with the flood').toBeGreaterThanOrEqual(
      Math.ceil(rounds / 2),
    );
    // The issue's figure: product list p95 under a health flood at most 1.5× the p95 without.
    expect(ratio).toBeLessThanOrEqual(1.5);
  }, 180_000);
});

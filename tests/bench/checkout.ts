import { randomBytes } from 'node:crypto';
import { resetSettingsForTests } from '../../shared/config/index.js';
import { closeOrms } from '../../shared/db/orm.js';
import { closeRedis } from '../../shared/cache/redis.js';
import { runCompare } from './checkout-compare.js';
import { describeOpenLoop, runE2eBench, type E2eOpenLoopStats } from './checkout-e2e.js';
import { runReservationBench, type PatternStats } from './checkout-reservations.js';
import { createScratchDatabase } from './scratch-db.js';
import { benchRedisUrl, describeServices, loadLine, removeRedisKeys } from './services.js';

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const fmt = (n: number, digits = 0): string => n.toFixed(digits);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;

function row(name: string, s: PatternStats): string {
  return `    ${name.padEnd(44)} ${fmt(s.tps).padStart(7)}/s   p50 ${fmt(s.p50, 1).padStart(6)} ms   p99 ${fmt(s.p99, 1).padStart(6)} ms${s.errors ? `   errors ${s.errors}` : ''}`;
}

/** `--levels 1,8,16`: positive integers. */
function levelsArg(args: string[], fallback: number[]): number[] {
  const i = args.indexOf('--levels');
  if (i < 0) return fallback;
  const levels = (args[i + 1] ?? '').split(',').map(Number);
  if (levels.length === 0 || levels.some((l) => !Number.isInteger(l) || l <= 0))
    throw new Error('--levels must be a comma-separated list of positive integers');
  return levels;
}

/**
 * `npm run bench checkout -- --compare <commit> [--rounds 4] [--checkouts 200] [--levels 1,8]
 *  [--own-host]`: end-to-end latency of that commit against this tree, interleaved
 * (checkout-compare.ts); the commit's app runs on this tree's local host unless --own-host.
 *
 * `npm run bench checkout [--workers 32] [--seconds 5] [--rounds 3] [--checkouts 300] [--skip-e2e]
 *  [--skip-reservations]`
 * Needs PostgreSQL on 127.0.0.1:5432 (BENCH_PG_ADMIN_URL to override) and Redis (REDIS_URL, default
 * redis://127.0.0.1:6379; `memory://` runs on the in-memory stand-in and the run says so): a scratch
 * database pair is created, migrated, and dropped afterwards, Redis keys under a prefix of the run's. End to end runs closed-loop levels (1, 8, 16 clients) and
 * then open-loop levels, Poisson arrivals at 50 % and 80 % of the 16-client throughput
 * (BENCH_E2E_OPEN_LOOP: `0` for none, or other fractions): a p95 target is about a sustained offered
 * load, and a closed loop at saturation only measures its own queue (latency ≈ clients / throughput).
 */
export async function run(args: string[]): Promise<void> {
  const compare = args.indexOf('--compare');
  if (compare >= 0) {
    const before = args[compare + 1];
    if (!before || before.startsWith('--'))
      throw new Error('--compare needs a commit, e.g. --compare c5c67b7');
    return runCompare({
      before,
      rounds: arg(args, 'rounds', 4),
      checkouts: arg(args, 'checkouts', 200),
      levels: levelsArg(args, [1, 8]),
      limit: 1.1,
      ownHost: args.includes('--own-host'),
      log: (line) => void process.stderr.write(line + '\n'),
    });
  }
  const workers = arg(args, 'workers', 32);
  const seconds = arg(args, 'seconds', 5);
  const rounds = arg(args, 'rounds', 3);
  const log = (line: string): void => void process.stderr.write(line + '\n');

  const scratch = await createScratchDatabase('checkout');
  const redisPrefix = `bench:checkout:${randomBytes(4).toString('hex')}:`;
  try {
    Object.assign(process.env, {
      APP_ENV: 'local',
      DATABASE_URL: scratch.url,
      AUDIT_DATABASE_URL: scratch.auditUrl,
      DATABASE_POOL_MAX: String(workers),
      REDIS_URL: benchRedisUrl(),
      REDIS_KEY_PREFIX: redisPrefix,
      JWT_SIGNING_KEYS: `bench:${randomBytes(32).toString('base64url')}`,
    });
    resetSettingsForTests();

    console.log(
      `checkout benchmark — ${workers} concurrent workers, ${rounds} rounds × ${seconds} s per pattern (median round)`,
    );
    console.log(
      describeServices({
        redisUrl: benchRedisUrl(),
        databaseUrl: scratch.url,
        stripe: "the project's fake (in this process, loopback), end to end only",
      }),
    );
    console.log(`at start: ${loadLine()}`);
    const reservation = args.includes('--skip-reservations')
      ? []
      : await runReservationBench({ url: scratch.url, workers, seconds, rounds, log });
    if (reservation.length > 0)
      console.log('\nReservation throughput (each attempt reserves 1 unit; stock never runs out)');
    for (const r of reservation) {
      console.log(`  ${r.dataset}`);
      console.log(row('bare conditional UPDATE (baseline)', r.bare));
      console.log(row('pessimistic SELECT … FOR UPDATE + UPDATE', r.pessimistic));
      console.log(row('project: InventoryService.reserve', r.project));
      console.log(row('project: checkout reserve step (+order, audit)', r.step));
      console.log(
        `    → project / bare ${ratio(r.project.tps, r.bare.tps)} (target ≥ 0.60×), project / pessimistic ` +
          `${ratio(r.project.tps, r.pessimistic.tps)} (target > 1×); reserve step / bare ${ratio(r.step.tps, r.bare.tps)}`,
      );
    }
    await closeOrms();

    if (args.includes('--skip-e2e')) {
      console.log('\nEnd to end: not measured (--skip-e2e)');
      return;
    }
    const checkouts = arg(args, 'checkouts', 300);
    console.log('\nEnd to end through the local host + fake Stripe (POST /checkout → order confirmed)');
    let open: E2eOpenLoopStats[] = [];
    const e2e = await runE2eBench({
      url: scratch.url,
      auditUrl: scratch.auditUrl,
      levels: [
        { concurrency: 1, checkouts: Math.max(20, Math.round(checkouts / 5)) },
        { concurrency: 8, checkouts },
        { concurrency: 16, checkouts },
      ],
      log,
      onOpenLoop: (stats) => (open = stats),
    });
    for (const e of e2e) {
      console.log(
        `  ${String(e.concurrency).padStart(2)} concurrent clients: ${fmt(e.perSecond, 1)} checkouts/s (${e.checkouts} in ${fmt(e.seconds, 1)} s` +
          `${e.failed ? `, ${e.failed} not confirmed` : ''})   confirmed after p50 ${fmt(e.p50)} ms, p95 ${fmt(e.p95)} ms, p99 ${fmt(e.p99)} ms`,
      );
      console.log(
        `      baseline, same requests: POST /checkout answered p50 ${fmt(e.acceptP50)} ms, p95 ${fmt(e.acceptP95)} ms` +
          ` → confirmation p95 / answer p95 ${ratio(e.p95, e.acceptP95)};  p95 / 500 ms target ${ratio(e.p95, 500)} ${e.p95 < 500 ? '(met)' : '(NOT met)'}`,
      );
    }
    if (open.length > 0) for (const line of describeOpenLoop(e2e, open)) console.log(line);
  } finally {
    console.log(`at end: ${loadLine()}`);
    await closeOrms();
    await closeRedis();
    await scratch.drop();
    await removeRedisKeys(benchRedisUrl(), redisPrefix).catch(() => undefined);
  }
}

import pg from 'pg';
import { getRedis, whenReady } from '../cache/redis.js';
import { SingleFlight } from '../cache/single-flight.js';
import { getSettings } from '../config/index.js';
import { HEALTH_POOL_MAX } from '../db/capacity.js';
import { pgPasswordOption } from '../db/database-auth.js';
import { guardPool } from '../db/pool-guard.js';

export type CheckStatus = 'ok' | 'down';
export interface CheckResult {
  status: CheckStatus;
  latencyMs: number;
  error?: string;
}
export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  checks: { database: CheckResult; auditDatabase: CheckResult; redis: CheckResult };
}

const CHECK_TIMEOUT_MS = 1_500;
/**
 * How long one readiness report is served to every caller. Front Door probes from many edge sites
 * (and anyone can call /health): within this window they all share one probe, so a flood costs
 * nothing but the answer. Short enough that a lost database takes an instance out of rotation within
 * one probe interval (30 s in bicep/modules/front-door-routes.bicep).
 */
export const HEALTH_CACHE_MS = 2_000;

async function timed(
  fn: () => Promise<unknown>,
): Promise<{ status: CheckStatus; latencyMs: number; error?: string }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    // A public endpoint: say timeout or unreachable, never the driver's message (hosts, user names).
    const reason = error instanceof Error && error.message === 'timed out' ? 'timeout' : 'unreachable';
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: reason };
  } finally {
    clearTimeout(timer);
  }
}

export interface HealthProbes {
  database: () => Promise<unknown>;
  auditDatabase: () => Promise<unknown>;
  redis: () => Promise<unknown>;
}

/**
 * One connection per database, kept open between probes. Not the request pool: a busy instance would
 * wait there for a free connection, report the database down, and be taken out of rotation exactly
 * when it is loaded. Not a new connection per probe either: that was a TLS + SCRAM login per health
 * request (913 requests opened 914 sessions, issue 19). The idle timeout outlives the cache window, so
 * steady probing reuses one session; a lost one is replaced on the next probe.
 */
const healthPools = new Map<string, pg.Pool>();

function healthPool(url: string): pg.Pool {
  let pool = healthPools.get(url);
  if (!pool) {
    pool = guardPool(
      new pg.Pool({
        connectionString: url,
        ...pgPasswordOption(),
        max: HEALTH_POOL_MAX,
        idleTimeoutMillis: 60_000,
        connectionTimeoutMillis: CHECK_TIMEOUT_MS,
        allowExitOnIdle: true,
        application_name: 'ecommerce-api health',
        options: `-c statement_timeout=${CHECK_TIMEOUT_MS}`,
      }),
    );
    healthPools.set(url, pool);
  }
  return pool;
}

async function probe(url: string): Promise<void> {
  await healthPool(url).query('select 1');
}

/** Ends the health connections (shutdown, tests). The next probe opens them again. */
export async function closeHealthPools(): Promise<void> {
  const pools = [...healthPools.values()];
  healthPools.clear();
  await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
}

export const defaultProbes: HealthProbes = {
  database: () => probe(getSettings().DATABASE_URL),
  auditDatabase: () => probe(getSettings().AUDIT_DATABASE_URL),
  redis: async () => {
    const redis = getRedis();
    await whenReady(redis, CHECK_TIMEOUT_MS);
    return redis.ping();
  },
};

/**
 * PostgreSQL is essential (down → the instance should be taken out of rotation); the audit database and
 * Redis are not (the outbox waits, the cache falls back), so they only degrade the report.
 */
export async function checkHealth(probes: HealthProbes = defaultProbes): Promise<HealthReport> {
  const [database, auditDatabase, redis] = await Promise.all([
    timed(probes.database),
    timed(probes.auditDatabase),
    timed(probes.redis),
  ]);
  const checks = { database, auditDatabase, redis };
  const status =
    database.status === 'down'
      ? 'down'
      : Object.values(checks).some((c) => c.status === 'down')
        ? 'degraded'
        : 'ok';
  return { status, checks };
}

/**
 * Readiness as served: the last report while it is younger than `ttlMs`, else one probe shared by
 * every caller that arrives while it runs (single-flight). A failed report is cached like a good one:
 * retrying a down database on every request is exactly the load a struggling instance cannot take.
 */
export class HealthMonitor {
  readonly #flight = new SingleFlight();
  #last: { report: HealthReport; at: number } | undefined;

  constructor(
    private readonly probes: HealthProbes = defaultProbes,
    private readonly ttlMs = HEALTH_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  async readiness(): Promise<HealthReport> {
    const last = this.#last;
    if (last && this.now() - last.at < this.ttlMs) return last.report;
    return this.#flight.run('health', async () => {
      const report = await checkHealth(this.probes);
      this.#last = { report, at: this.now() };
      return report;
    });
  }
}

let monitor: HealthMonitor | undefined;

/** The process-wide readiness monitor (one cache and one probe in flight per instance). */
export function getHealthMonitor(): HealthMonitor {
  monitor ??= new HealthMonitor();
  return monitor;
}

/** Forgets the cached report (tests that change what the probes see). */
export function resetHealthMonitorForTests(): void {
  monitor = undefined;
}

import { getRedis, whenReady } from '../cache/redis.js';
import pg from 'pg';
import { getSettings } from '../config/index.js';

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
 * Probes use a connection of their own: on the request pool a busy instance would wait for a free
 * connection, report the database down, and be taken out of rotation exactly when it is loaded.
 */
async function probe(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CHECK_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => undefined);
  }
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

import { getRedis, whenReady } from '../cache/redis.js';
import { getAuditOrm, getOrm } from '../db/orm.js';

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
    // Only the error class/first line: connection strings must never reach a public endpoint.
    const message =
      error instanceof Error ? error.message.split('\n')[0]!.replace(/\/\/[^@\s]*@/g, '//***@') : 'failed';
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      error: message.slice(0, 120),
    };
  } finally {
    clearTimeout(timer);
  }
}

export interface HealthProbes {
  database: () => Promise<unknown>;
  auditDatabase: () => Promise<unknown>;
  redis: () => Promise<unknown>;
}

export const defaultProbes: HealthProbes = {
  database: async () => (await getOrm()).em.execute('select 1'),
  auditDatabase: async () => (await getAuditOrm()).em.execute('select 1'),
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

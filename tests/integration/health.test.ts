import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { health, healthLive } from '../../functions/health.js';
import { closeRedis } from '../../shared/cache/redis.js';
import { closeOrms } from '../../shared/db/orm.js';
import {
  checkHealth,
  closeHealthPools,
  HealthMonitor,
  type HealthProbes,
} from '../../shared/services/health.js';
import { invoke } from '../support/http.js';

const ok = (): Promise<void> => Promise.resolve();

function countingProbes(): { probes: HealthProbes; calls: () => number; release: () => void } {
  let n = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    probes: {
      database: async () => {
        n += 1;
        await gate;
      },
      auditDatabase: ok,
      redis: ok,
    },
    calls: () => n,
    release: () => release(),
  };
}

describe('health', () => {
  const observer = new pg.Client({ connectionString: process.env.DATABASE_URL });

  afterAll(async () => {
    await observer.end().catch(() => undefined);
    await closeHealthPools();
    await closeOrms();
    await closeRedis();
  });

  it('probes PostgreSQL over one kept session, not a new connection per check', async () => {
    await observer.connect();
    const sessions = async (): Promise<{ pid: number; started: Date }[]> =>
      (
        await observer.query<{ pid: number; started: Date }>(
          `select pid, backend_start as started from pg_stat_activity
            where datname = current_database() and application_name = 'ecommerce-api health'`,
        )
      ).rows;
    // Uncached on purpose: the pool alone must keep the connection count flat.
    for (let i = 0; i < 60; i++) expect((await checkHealth()).checks.database.status).toBe('ok');
    const first = await sessions();
    expect(first).toHaveLength(1);
    for (let i = 0; i < 60; i++) await checkHealth();
    expect(await sessions()).toEqual(first);
  });

  it('shares one probe among concurrent callers and serves it for the cache window', async () => {
    let clock = 1_000;
    const { probes, calls, release } = countingProbes();
    const monitor = new HealthMonitor(probes, 2_000, () => clock);
    const concurrent = Array.from({ length: 50 }, () => monitor.readiness());
    release();
    const reports = await Promise.all(concurrent);
    expect(calls()).toBe(1);
    expect(new Set(reports).size).toBe(1);
    clock += 1_999;
    await monitor.readiness();
    expect(calls()).toBe(1);
    clock += 1;
    await monitor.readiness();
    expect(calls()).toBe(2);
  });

  it('caches a down report too', async () => {
    let clock = 0;
    let n = 0;
    const monitor = new HealthMonitor(
      {
        database: () => {
          n += 1;
          return Promise.reject(new Error('refused'));
        },
        auditDatabase: ok,
        redis: ok,
      },
      2_000,
      () => clock,
    );
    expect((await monitor.readiness()).status).toBe('down');
    clock += 500;
    expect((await monitor.readiness()).status).toBe('down');
    expect(n).toBe(1);
  });

  it('answers readiness over HTTP, and liveness without touching anything', async () => {
    const ready = await invoke(health, { url: 'http://localhost/api/health' });
    expect(ready.status).toBe(200);
    expect(ready.json.checks.database.status).toBe('ok');
    // Liveness opens nothing: no health session appears however often it is asked.
    await closeHealthPools();
    for (let i = 0; i < 20; i++) {
      const live = await invoke(healthLive, { url: 'http://localhost/api/health/live' });
      expect(live.status).toBe(200);
      expect(live.json).toEqual({ status: 'ok' });
    }
    const { rows } = await observer.query(
      `select 1 from pg_stat_activity where application_name = 'ecommerce-api health' and datname = current_database()`,
    );
    expect(rows).toHaveLength(0);
  });
});

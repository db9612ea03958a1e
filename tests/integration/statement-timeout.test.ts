import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemResponse } from '../../functions/lib/problem.js';
import { resetSettingsForTests } from '../../shared/config/index.js';
import { closeOrms, getAuditOrm, getOrm } from '../../shared/db/orm.js';
import { readTenantRows } from '../../shared/db/read-pool.js';
import { closeStreamPool, getStreamPool } from '../../shared/db/stream-pool.js';
import { runUnitOfWork } from '../../shared/db/unit-of-work.js';
import { silentLogger } from '../../shared/logging/logger.js';

/** Runs `work`, expecting a rejection; returns the error and how long it took. */
async function failure(work: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await work();
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error('expected the statement to be cancelled');
}

function expect503(error: unknown): void {
  const res = problemResponse(error, 'corr', silentLogger, '/api/products');
  expect(res.status).toBe(503);
  expect((res.headers as Record<string, string>)['Retry-After']).toBe('2');
  expect((res.headers as Record<string, string>)['content-type']).toBe('application/problem+json');
  expect(String(res.body)).not.toContain('pg_sleep');
}

describe('statement_timeout on every pool (issue 19)', () => {
  const saved = { ...process.env };

  beforeAll(async () => {
    await closeOrms();
    process.env.DATABASE_STATEMENT_TIMEOUT_MS = '300';
    process.env.EXPORT_STATEMENT_TIMEOUT_MS = '4000';
    resetSettingsForTests();
  });
  afterAll(async () => {
    await closeOrms();
    await closeStreamPool();
    process.env.DATABASE_STATEMENT_TIMEOUT_MS = saved.DATABASE_STATEMENT_TIMEOUT_MS;
    process.env.EXPORT_STATEMENT_TIMEOUT_MS = saved.EXPORT_STATEMENT_TIMEOUT_MS;
    if (saved.DATABASE_STATEMENT_TIMEOUT_MS === undefined) delete process.env.DATABASE_STATEMENT_TIMEOUT_MS;
    if (saved.EXPORT_STATEMENT_TIMEOUT_MS === undefined) delete process.env.EXPORT_STATEMENT_TIMEOUT_MS;
    resetSettingsForTests();
  });

  it('the ORM pool cancels a slow read → 503 + Retry-After', async () => {
    const orm = await getOrm();
    const { error, ms } = await failure(() => orm.em.fork().execute('select pg_sleep(3)'));
    expect(ms).toBeLessThan(2_000);
    expect503(error);
  });

  it('and a slow statement inside a write unit of work, which rolls back', async () => {
    const { error } = await failure(() =>
      runUnitOfWork('write', async (em) => {
        await em.execute('select pg_sleep(3)');
      }),
    );
    expect503(error);
  });

  it('the read pool cancels a slow search-like read', async () => {
    const tenantId = randomUUID();
    const { error, ms } = await failure(() =>
      readTenantRows(tenantId, {
        text: 'select pg_sleep(3) from (select $1::uuid as tenant_id) t where tenant_id = $1',
        values: [tenantId],
      }),
    );
    expect(ms).toBeLessThan(2_000);
    expect503(error);
  });

  it('the audit pool has the same limit; the export stream pool a longer one', async () => {
    const audit = await getAuditOrm();
    expect503((await failure(() => audit.em.fork().execute('select pg_sleep(3)'))).error);
    const { rows } = await getStreamPool().query<{ statement_timeout: string }>('show statement_timeout');
    expect(rows[0]!.statement_timeout).toBe('4s');
  });
});

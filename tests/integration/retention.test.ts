import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retention } from '../../functions/retention.js';
import { resetSettingsForTests } from '../../shared/config/index.js';
import { closeOrms } from '../../shared/db/orm.js';
import { silentLogger } from '../../shared/logging/logger.js';
import { runRetention } from '../../shared/services/retention/retention.js';
import { exportBlob, getBlobServiceClient, resetBlobClientForTests } from '../../shared/storage/blob.js';
import { closeTestPool, createTenant, testPool } from '../fixtures/sample_data.js';
import { createUser } from '../fixtures/users.js';
import { startAzurite, type Azurite } from '../support/azurite.js';

/**
 * Every purge of issue 19's retention run, on rows of a tenant of this file's own (the run is limited to
 * it, so files running in parallel keep their rows), against the real database and Azurite.
 */
const CONTAINER = 'exports';

describe('retention', () => {
  let azurite: Azurite;
  let tenantId: string;
  let otherTenantId: string;
  let userId: string;

  const db = () => testPool();
  const count = async (sql: string, params: unknown[]): Promise<number> =>
    (await db().query<{ n: number }>(`select count(*)::int as n from (${sql}) x`, params)).rows[0]!.n;

  beforeAll(async () => {
    azurite = await startAzurite();
    process.env.AzureWebJobsStorage = azurite.connectionString;
    process.env.EXPORT_CONTAINER = CONTAINER;
    resetSettingsForTests();
    resetBlobClientForTests();
    await getBlobServiceClient().getContainerClient(CONTAINER).createIfNotExists();
    tenantId = (await createTenant('Retention shop')).id;
    otherTenantId = (await createTenant('Other shop')).id;
    userId = (await createUser(tenantId)).id;
  });
  afterAll(async () => {
    await closeOrms();
    await closeTestPool();
    await azurite?.stop();
  });

  it('purges refresh tokens a week past expiry, keeps the rest', async () => {
    const family = randomUUID();
    const insert = (label: string, expires: string): Promise<unknown> =>
      db().query(
        `insert into refresh_tokens (id, tenant_id, user_id, family_id, token_hash, expires_at)
         values ($1, $2, $3, $4, $5, now() + $6::interval)`,
        [randomUUID(), tenantId, userId, family, `${label}-${randomUUID()}`, expires],
      );
    await insert('gone', '-8 days');
    await insert('grace', '-6 days');
    await insert('live', '7 days');
    const result = await runRetention(silentLogger, { tenantId });
    expect(result.refreshTokens).toBe(1);
    const { rows } = await db().query<{ token_hash: string }>(
      'select token_hash from refresh_tokens where family_id = $1 order by expires_at',
      [family],
    );
    expect(rows.map((r) => r.token_hash.split('-')[0])).toEqual(['grace', 'live']);
  });

  it('purges Stripe event ids past the retry window, in bounded batches', async () => {
    for (let i = 0; i < 25; i++) {
      await db().query(
        `insert into stripe_events (id, tenant_id, type, created_at) values ($1, $2, 'payment_intent.succeeded', now() - interval '8 days')`,
        [`evt_old_${randomUUID()}`, tenantId],
      );
    }
    const recent = `evt_new_${randomUUID()}`;
    await db().query(
      `insert into stripe_events (id, tenant_id, type, created_at) values ($1, $2, 'x', now() - interval '2 days')`,
      [recent, tenantId],
    );
    const foreign = `evt_other_${randomUUID()}`;
    await db().query(
      `insert into stripe_events (id, tenant_id, type, created_at) values ($1, $2, 'x', now() - interval '30 days')`,
      [foreign, otherTenantId],
    );
    const first = await runRetention(silentLogger, { tenantId, batchSize: 10, maxBatches: 2 });
    expect(first.stripeEvents).toBe(20); // bounded: the rest waits for the next run
    const second = await runRetention(silentLogger, { tenantId, batchSize: 10, maxBatches: 2 });
    expect(second.stripeEvents).toBe(5);
    expect(await count('select 1 from stripe_events where tenant_id = $1', [tenantId])).toBe(1);
    expect(await count('select 1 from stripe_events where id = any($1)', [[recent, foreign]])).toBe(2);
  });

  it('purges relayed outbox rows after a day, never pending ones', async () => {
    const add = async (relayed: string | null): Promise<string> => {
      const id = randomUUID();
      await db().query(
        `insert into audit_outbox (id, tenant_id, entity, entity_id, action, payload, relayed_at, created_at)
         values ($1, $2, 'order', $3, 'created', '{}', now() + $4::interval, now() - interval '10 days')`,
        [id, tenantId, randomUUID(), relayed],
      );
      return id;
    };
    const old = await add('-2 days');
    const fresh = await add('-1 hour');
    const pending = await add(null);
    expect((await runRetention(silentLogger, { tenantId })).auditOutbox).toBe(1);
    const { rows } = await db().query<{ id: string }>('select id from audit_outbox where id = any($1)', [
      [old, fresh, pending],
    ]);
    expect(rows.map((r) => r.id).sort()).toEqual([fresh, pending].sort());
  });

  it('purges finished export jobs (completed or failed) and their blobs, keeps recent and running ones', async () => {
    const job = async (
      status: string,
      age: string,
      withBlob: boolean,
    ): Promise<{ id: string; blob: string }> => {
      const id = randomUUID();
      const blob = `${tenantId}/${id}.csv`;
      if (withBlob) await exportBlob(CONTAINER, blob).upload('a,b\n', 4);
      await db().query(
        `insert into export_jobs (id, tenant_id, requested_by, status, range_from, range_to, blob_name, completed_at, updated_at)
         values ($1, $2, $3, $4, now(), now(), $5, now() + $6::interval, now() + $6::interval)`,
        [id, tenantId, userId, status, withBlob ? blob : null, age],
      );
      return { id, blob };
    };
    const old = await job('completed', '-8 days', true);
    const oldFailed = await job('failed', '-9 days', false);
    const recent = await job('completed', '-1 day', true);
    const running = await job('running', '-30 days', false);
    const result = await runRetention(silentLogger, { tenantId });
    expect(result).toMatchObject({ exportJobs: 2, failed: 0 });
    const { rows } = await db().query<{ id: string }>('select id from export_jobs where tenant_id = $1', [
      tenantId,
    ]);
    expect(rows.map((r) => r.id).sort()).toEqual([recent.id, running.id].sort());
    expect(await exportBlob(CONTAINER, old.blob).exists()).toBe(false);
    expect(await exportBlob(CONTAINER, recent.blob).exists()).toBe(true);
    expect(rows.map((r) => r.id)).not.toContain(oldFailed.id);
  });

  it('the hourly timer runs every purge and reports', async () => {
    const lines: string[] = [];
    const context = { ...silentLogger, info: (...a: unknown[]) => void lines.push(a.map(String).join(' ')) };
    await db().query(
      `insert into stripe_events (id, tenant_id, type, created_at) values ($1, $2, 'x', now() - interval '8 days')`,
      [`evt_timer_${randomUUID()}`, tenantId],
    );
    await retention({ isPastDue: false } as never, context as never);
    expect(
      await count(
        `select 1 from stripe_events where tenant_id = $1 and created_at < now() - interval '7 days'`,
        [tenantId],
      ),
    ).toBe(0);
    expect(lines.join('\n')).toMatch(/retention: .*"stripeEvents":[1-9]/);
  });
});

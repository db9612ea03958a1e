import { getSettings } from '../../config/index.js';
import { getOrm } from '../../db/orm.js';
import { errorSummary } from '../../logging/error-summary.js';
import type { Logger } from '../../logging/logger.js';
import { exportBlob } from '../../storage/blob.js';
import { exportBlobName } from '../export/export-runner.js';

/**
 * Retention (issue 19): tables that only ever grew. Each purge deletes in bounded batches — one short
 * autocommit statement per batch, so no purge holds locks or a long transaction, and a backlog is worked
 * off over several runs instead of in one statement that could run for minutes (statement_timeout).
 *
 * What goes, and when:
 * - refresh tokens REFRESH_TOKEN_GRACE_DAYS after they expired: an expired token is refused anyway;
 *   the grace keeps reuse detection (a rotated token presented again revokes its family) for a week
 *   after the last token of a family stopped working.
 * - Stripe event ids STRIPE_EVENT_RETENTION_DAYS after receipt. They exist to drop redeliveries, and
 *   Stripe redelivers an event for up to 3 days in live mode ("Automatic retries",
 *   https://docs.stripe.com/webhooks#automatic-retries); 7 days is past that with margin. A later
 *   manual resend is harmless: payment state only moves forward (ADR 0041).
 * - relayed audit outbox rows RELAYED_OUTBOX_RETENTION_DAYS after relay: the audit database holds them.
 * - finished export jobs (completed or failed) EXPORT_JOB_RETENTION_DAYS after they finished, blob
 *   first: a download link lives at most EXPORT_LINK_TTL_SECONDS (≤ 1 day). A blob that cannot be
 *   deleted keeps its row, so the next run tries again; nothing is orphaned.
 */
export const REFRESH_TOKEN_GRACE_DAYS = 7;
export const STRIPE_EVENT_RETENTION_DAYS = 7;
export const RELAYED_OUTBOX_RETENTION_DAYS = 1;
export const EXPORT_JOB_RETENTION_DAYS = 7;

export interface RetentionOptions {
  /** Rows per statement. */
  batchSize?: number;
  /** Statements per purge per run; a larger backlog waits for the next run. */
  maxBatches?: number;
  /** One tenant only (operations, tests); the timer purges every tenant. */
  tenantId?: string;
}

export interface RetentionResult {
  refreshTokens: number;
  stripeEvents: number;
  auditOutbox: number;
  exportJobs: number;
  /** Purges that failed this run (logged; the next run tries again). */
  failed: number;
}

interface Purge {
  table: string;
  /** The rows that may go (a boolean SQL expression; `$1` is the tenant or null for all). */
  where: string;
}

const PURGES: Record<'refreshTokens' | 'stripeEvents' | 'auditOutbox', Purge> = {
  refreshTokens: {
    table: 'refresh_tokens',
    where: `expires_at < now() - interval '${REFRESH_TOKEN_GRACE_DAYS} days'`,
  },
  stripeEvents: {
    table: 'stripe_events',
    where: `created_at < now() - interval '${STRIPE_EVENT_RETENTION_DAYS} days'`,
  },
  auditOutbox: {
    table: 'audit_outbox',
    where: `relayed_at is not null and relayed_at < now() - interval '${RELAYED_OUTBOX_RETENTION_DAYS} days'`,
  },
};

async function execute<Row>(sql: string, params: unknown[]): Promise<Row[]> {
  // Maintenance across tenants (like the reservation sweeper): each statement is its own transaction.
  return (await getOrm()).em.fork().execute<Row[]>(sql, params);
}

/** Deletes up to batchSize × maxBatches rows of one purge; returns how many went. */
async function purgeRows(
  purge: Purge,
  tenantId: string | null,
  batchSize: number,
  maxBatches: number,
): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const rows = await execute<{ n: number }>(
      `with doomed as (
         select ctid from ${purge.table}
          where ${purge.where} and (?::uuid is null or tenant_id = ?::uuid)
          limit ? for update skip locked
       ), gone as (delete from ${purge.table} t using doomed where t.ctid = doomed.ctid returning 1)
       select count(*)::int as n from gone`,
      [tenantId, tenantId, batchSize],
    );
    const n = rows[0]?.n ?? 0;
    total += n;
    if (n < batchSize) break;
  }
  return total;
}

/** Finished export jobs past retention: blob deleted first, then the row. */
async function purgeExportJobs(
  tenantId: string | null,
  batchSize: number,
  maxBatches: number,
  log: Logger,
): Promise<number> {
  const container = getSettings().EXPORT_CONTAINER;
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const jobs = await execute<{ id: string; tenant_id: string; blob_name: string | null }>(
      `select id, tenant_id, blob_name from export_jobs
        where status in ('completed', 'failed')
          and coalesce(completed_at, updated_at) < now() - interval '${EXPORT_JOB_RETENTION_DAYS} days'
          and (?::uuid is null or tenant_id = ?::uuid)
        order by updated_at limit ?`,
      [tenantId, tenantId, batchSize],
    );
    const deletable: string[] = [];
    for (const job of jobs) {
      try {
        // A failed job may have left a partial blob under the name it would have had.
        await exportBlob(container, job.blob_name ?? exportBlobName(job.tenant_id, job.id)).deleteIfExists();
        deletable.push(job.id);
      } catch (error) {
        log.warn(
          `retention: export ${job.id} blob not deleted; its row stays for the next run`,
          errorSummary(error),
        );
      }
    }
    if (deletable.length > 0) {
      const gone = await execute<{ n: number }>(
        `with gone as (delete from export_jobs where id = any(?::uuid[]) and status in ('completed', 'failed') returning 1)
         select count(*)::int as n from gone`,
        [`{${deletable.join(',')}}`],
      );
      total += gone[0]?.n ?? 0;
    }
    if (jobs.length < batchSize) break;
  }
  return total;
}

/** Runs every purge once. One failing purge does not stop the others. */
export async function runRetention(log: Logger, options: RetentionOptions = {}): Promise<RetentionResult> {
  const { batchSize = 1_000, maxBatches = 20 } = options;
  const tenantId = options.tenantId ?? null;
  const result: RetentionResult = {
    refreshTokens: 0,
    stripeEvents: 0,
    auditOutbox: 0,
    exportJobs: 0,
    failed: 0,
  };
  const guarded = async (
    name: keyof Omit<RetentionResult, 'failed'>,
    run: () => Promise<number>,
  ): Promise<void> => {
    try {
      result[name] = await run();
    } catch (error) {
      result.failed++;
      log.warn(`retention: purging ${name} failed; the next run tries again`, errorSummary(error));
    }
  };
  for (const name of ['refreshTokens', 'stripeEvents', 'auditOutbox'] as const) {
    await guarded(name, () => purgeRows(PURGES[name], tenantId, batchSize, maxBatches));
  }
  await guarded('exportJobs', () => purgeExportJobs(tenantId, Math.min(batchSize, 100), maxBatches, log));
  return result;
}

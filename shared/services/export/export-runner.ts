import { pipeline } from 'node:stream/promises';
import QueryStream from 'pg-query-stream';
import { getSettings } from '../../config/index.js';
import { getStreamPool } from '../../db/stream-pool.js';
import type { Logger } from '../../logging/logger.js';
import { exportBlob, getBlobServiceClient } from '../../storage/blob.js';
import { trackMetric } from '../../telemetry/index.js';
import { getFieldCipher } from '../pii-cipher.js';
import { BlockUpload, EXPORT_BLOCK_UPLOAD, type BlockUploadOptions } from './block-upload.js';
import { exportQuery } from './export-query.js';
import { CsvRowEncoder } from './row-encoder.js';

export interface ExportMessage {
  exportId: string;
  tenantId: string;
}

export interface DeliveryInfo {
  deliveryCount: number;
  maxDeliveries: number;
}

export type ExportOutcome = 'completed' | 'already-completed' | 'unknown-job';

export const exportBlobName = (tenantId: string, exportId: string): string => `${tenantId}/${exportId}.csv`;

interface ClaimedJob {
  attempts: number;
  range_from: Date;
  range_to: Date;
  status_filter: string | null;
}

/**
 * Streams one export job to Blob Storage: server-side cursor → CSV → block upload, so memory stays flat
 * whatever the range (a fixed set of block buffers; the cursor waits while they are all staging). The
 * blob name is fixed per job, so a redelivered message rewrites the same blob.
 * On failure the job records the reason; it is `failed` only once the last delivery has failed (the
 * message is then dead-lettered), otherwise `queued` again for the redelivery. `blocks` is the upload's
 * memory bound (tests shrink it to cross many block boundaries).
 */
export async function runExport(
  message: ExportMessage,
  delivery: DeliveryInfo,
  log: Logger,
  blocks: BlockUploadOptions = EXPORT_BLOCK_UPLOAD,
): Promise<ExportOutcome> {
  const pool = getStreamPool();
  const claimed = await pool.query<ClaimedJob>(
    `update export_jobs set status = 'running', attempts = attempts + 1, error = null,
       started_at = coalesce(started_at, now()), updated_at = now()
     where id = $1 and tenant_id = $2 and status <> 'completed'
     returning range_from, range_to, status_filter, attempts`,
    [message.exportId, message.tenantId],
  );
  const job = claimed.rows[0];
  if (!job) {
    if (await isCompleted(message)) return 'already-completed';
    // The request's transaction may not be visible yet: let the message be redelivered, up to the max.
    if (delivery.deliveryCount < delivery.maxDeliveries) throw new Error('export job not found yet');
    log.warn(`export ${message.exportId}: no such job; dropping the message`);
    return 'unknown-job';
  }

  const started = performance.now();
  const blobName = exportBlobName(message.tenantId, message.exportId);
  const progress = progressWriter(message.exportId);
  let upload: BlockUpload | undefined;
  try {
    const { EXPORT_CONTAINER } = getSettings();
    await getBlobServiceClient().getContainerClient(EXPORT_CONTAINER).createIfNotExists();
    upload = new BlockUpload(exportBlob(EXPORT_CONTAINER, blobName), blocks);
    const encoder = new CsvRowEncoder(await getFieldCipher(), upload, progress.report);
    const client = await pool.connect();
    let streamed = false;
    try {
      const params: unknown[] = [message.tenantId, job.range_from, job.range_to];
      if (job.status_filter) params.push(job.status_filter);
      const rows = client.query(
        new QueryStream(exportQuery(Boolean(job.status_filter)), params, {
          batchSize: 500,
          rowMode: 'array',
        }),
      );
      await pipeline(rows, encoder);
      streamed = true;
    } finally {
      // A cursor torn down mid-stream may leave the session mid-protocol: discard that connection.
      client.release(!streamed);
    }
    await upload.commit({
      blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' },
      metadata: { tenantid: message.tenantId, exportid: message.exportId },
    });
    upload = undefined;
    await progress.settle();
    await pool.query(
      `update export_jobs set status = 'completed', rows_exported = $2, bytes = $3, blob_name = $4, error = null,
         completed_at = now(), updated_at = now()
       where id = $1 and tenant_id = $5 and status = 'running' and attempts = $6`,
      [message.exportId, encoder.rows, encoder.bytes, blobName, message.tenantId, job.attempts],
    );
    trackMetric('ExportRowsPerSecond', encoder.rows / ((performance.now() - started) / 1000));
    log.info(`export ${message.exportId}: ${encoder.rows} rows, ${encoder.bytes} bytes`);
    return 'completed';
  } catch (error) {
    upload?.abort();
    await progress.settle();
    const final = delivery.deliveryCount >= delivery.maxDeliveries;
    const reason = failureReason(error);
    // Guarded by the attempt we claimed: a concurrent duplicate delivery cannot overwrite another's result.
    await pool
      .query(
        `update export_jobs set status = $2, error = $3, updated_at = now()
         where id = $1 and tenant_id = $4 and status = 'running' and attempts = $5`,
        [message.exportId, final ? 'failed' : 'queued', reason, message.tenantId, job.attempts],
      )
      .catch(() => undefined);
    log.error(
      `export ${message.exportId} failed (delivery ${delivery.deliveryCount}/${delivery.maxDeliveries}): ${reason}`,
    );
    throw error;
  }
}

/** One line for the job's `error`; storage errors without a body have an empty message. */
function failureReason(error: unknown): string {
  if (!(error instanceof Error)) return 'export failed';
  const line = error.message.split('\n')[0]!.slice(0, 300);
  if (line) return line;
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? `${error.name} (HTTP ${status})` : error.name || 'export failed';
}

async function isCompleted(message: ExportMessage): Promise<boolean> {
  const { rows } = await getStreamPool().query<{ status: string }>(
    'select status from export_jobs where id = $1 and tenant_id = $2',
    [message.exportId, message.tenantId],
  );
  return rows[0]?.status === 'completed';
}

/** At most one progress update in flight; later ones overwrite earlier ones. */
function progressWriter(exportId: string): {
  report: (rows: number, bytes: number) => void;
  settle: () => Promise<void>;
} {
  let inflight: Promise<unknown> = Promise.resolve();
  let latest: [number, number] | undefined;
  let busy = false;
  const flush = (): void => {
    if (busy || !latest) return;
    const [rows, bytes] = latest;
    latest = undefined;
    busy = true;
    inflight = getStreamPool()
      .query(
        `update export_jobs set rows_exported = $2, bytes = $3, updated_at = now() where id = $1 and status = 'running'`,
        [exportId, rows, bytes],
      )
      .catch(() => undefined)
      .finally(() => {
        busy = false;
        flush();
      });
  };
  return {
    report: (rows, bytes) => {
      latest = [rows, bytes];
      flush();
    },
    settle: async () => {
      while (busy) await inflight;
    },
  };
}

import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { generateOrders } from '../../infra/datagen/orders.js';
import { exportQuery } from '../../shared/services/export/export-query.js';
import { Progress } from './progress.js';
import { createScratchDatabase } from './scratch-db.js';
import { alternating, benchRedisUrl, describeServices, loadLine, removeRedisKeys } from './services.js';
import { startAzurite } from '../support/azurite.js';

const run$ = promisify(execFile);

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Raw COPY of the same statement into a null sink: the database-side ceiling. */
async function rawCopy(
  url: string,
  tenantId: string,
  from: Date,
  to: Date,
): Promise<{ ms: number; bytes: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const sql = exportQuery(false)
    .replace('$1', `${literal(tenantId)}::uuid`)
    .replace('$2', `${literal(from.toISOString())}::timestamptz`)
    .replace('$3', `${literal(to.toISOString())}::timestamptz`);
  let bytes = 0;
  const started = performance.now();
  await pipeline(
    client.query(copyTo(`copy (${sql}) to stdout with csv`)),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        bytes += chunk.length;
        cb();
      },
    }),
  );
  const ms = performance.now() - started;
  await client.end();
  return { ms, bytes };
}

/**
 * `npm run bench export [--orders 1000000] [--small 100000] [--samples 3] [--quick]`: generates orders
 * (3 lines each) with COPY, then exports the first `small` and all `orders` through the project's
 * streaming export into Azurite, each export in its own process (peak RSS), beside raw COPY of the same
 * query in the same run: `samples` of each per size, alternating which goes first (after one unrecorded
 * COPY that warms the table for both), medians printed with every sample.
 * `--quick` is 200,000 and 20,000 orders (about a fifth of the time) for iterating.
 */
export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const total = arg(args, 'orders', quick ? 200_000 : 1_000_000);
  const small = Math.min(arg(args, 'small', quick ? 20_000 : 100_000), total);
  const samples = Math.max(1, Math.round(arg(args, 'samples', 3)));
  const redisPrefix = `bench:export:${randomBytes(4).toString('hex')}:`;
  const db = await createScratchDatabase('export');
  const azurite = await startAzurite();
  try {
    const tenantId = randomUUID();
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`insert into tenants (id, slug, name) values ($1, 'bench-export', 'Bench')`, [
      tenantId,
    ]);
    const fernetKeys = randomBytes(32).toString('base64url') + '=';
    const progress = new Progress('generating orders', total);
    const started = Date.now();
    const start = new Date('2025-01-01T00:00:00Z');
    await generateOrders({
      databaseUrl: db.url,
      tenantId,
      fernetKeys,
      customers: 10_000,
      orders: total,
      linesPerOrder: 3,
      start,
      spacingSeconds: 10,
      onProgress: (done) => progress.tick(done),
    });
    console.log(
      `generated ${total} orders, ${total * 3} lines in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const requester = (await admin.query<{ id: string }>('select id from users limit 1')).rows[0]!.id;

    const results: string[] = [];
    const peaks: number[] = [];
    /** One export in its own process (peak RSS), checked for the rows it wrote. */
    const exportOnce = async (
      n: number,
      to: Date,
    ): Promise<{ ms: number; maxRssMb: number; peakHeapTotalMb: number; peakExternalMb: number }> => {
      const exportId = randomUUID();
      await admin.query(
        `insert into export_jobs (id, tenant_id, requested_by, status, range_from, range_to) values ($1, $2, $3, 'queued', $4, $5)`,
        [exportId, tenantId, requester, start, to],
      );
      const child = await run$(
        process.execPath,
        [path.join(__dirname, 'export-child.js'), exportId, tenantId],
        {
          env: {
            ...process.env,
            APP_ENV: 'test',
            DATABASE_URL: db.url,
            AUDIT_DATABASE_URL: db.auditUrl,
            REDIS_URL: benchRedisUrl(),
            REDIS_KEY_PREFIX: redisPrefix,
            AzureWebJobsStorage: azurite.connectionString,
            FERNET_KEYS: fernetKeys,
          },
          maxBuffer: 1 << 20,
        },
      );
      const report = JSON.parse(child.stdout.trim().split('\n').pop()!) as {
        ms: number;
        maxRssMb: number;
        peakHeapTotalMb: number;
        peakExternalMb: number;
      };
      const rows = Number(
        (await admin.query('select rows_exported from export_jobs where id = $1', [exportId])).rows[0]
          .rows_exported,
      );
      if (rows !== n) throw new Error(`export wrote ${rows} rows, expected ${n}`);
      return report;
    };
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[(values.length - 1) >> 1]!;
    for (const n of [small, total]) {
      const to = new Date(start.getTime() + n * 10_000);
      // One unrecorded raw COPY warms the table for both sides; then the two alternate which goes first,
      // so neither always finds the pages the other just read.
      await rawCopy(db.url, tenantId, start, to);
      const rawMs: number[] = [];
      const exportMs: number[] = [];
      const reports: Awaited<ReturnType<typeof exportOnce>>[] = [];
      for (let i = 0; i < samples; i++) {
        const runRaw = async (): Promise<void> =>
          void rawMs.push((await rawCopy(db.url, tenantId, start, to)).ms);
        const runExport = async (): Promise<void> => {
          const report = await exportOnce(n, to);
          reports.push(report);
          exportMs.push(report.ms);
        };
        await alternating(i, runRaw, runExport);
      }
      const peak = Math.max(...reports.map((r) => r.maxRssMb));
      peaks.push(peak);
      const rawRate = n / (median(rawMs) / 1000);
      const rate = n / (median(exportMs) / 1000);
      results.push(
        `${String(n).padStart(8)} orders, ${samples} samples each, alternating | export median ${(median(exportMs) / 1000).toFixed(2)} s ` +
          `(${exportMs.map((m) => (m / 1000).toFixed(2)).join(', ')}), ${rate.toFixed(0)} rows/s, peak RSS max ${peak.toFixed(0)} MB ` +
          `(all: ${reports.map((r) => r.maxRssMb.toFixed(0)).join(', ')}; V8 heap ${Math.max(...reports.map((r) => r.peakHeapTotalMb)).toFixed(0)}, external ${Math.max(...reports.map((r) => r.peakExternalMb)).toFixed(0)}) | ` +
          `raw COPY median ${(median(rawMs) / 1000).toFixed(2)} s (${rawMs.map((m) => (m / 1000).toFixed(2)).join(', ')}), ${rawRate.toFixed(0)} rows/s | ratio ${(rate / rawRate).toFixed(2)}× (target ≥ 0.5)`,
      );
      console.log(results[results.length - 1]);
    }
    await admin.end();
    console.log(
      '\nexport benchmark (peak RSS target < 150 MB and flat across sizes; throughput ≥ 0.5× raw COPY)',
    );
    console.log(
      describeServices({ redisUrl: benchRedisUrl(), databaseUrl: db.url, stripe: 'not used' }) +
        ' · Blob: Azurite (loopback, --disableTelemetry)',
    );
    console.log(`at end: ${loadLine()}`);
    for (const line of results) console.log(line);
    const [smallPeak, totalPeak] = peaks as [number, number];
    console.log(
      `peak RSS ${totalPeak.toFixed(0)} MB at ${total} vs ${smallPeak.toFixed(0)} MB at ${small}: ` +
        `${(((totalPeak - smallPeak) / smallPeak) * 100).toFixed(0)} % (target within ±20 %)`,
    );
  } finally {
    await azurite.stop();
    await db.drop();
    await removeRedisKeys(benchRedisUrl(), redisPrefix).catch(() => undefined);
  }
}

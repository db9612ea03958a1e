/**
 * `npm run audit:relay [-- --max-batches 1000]`: drains the audit outbox once — what the relay timer
 * does, run by hand (docs/runbook.md, restoring the audit database). Moves rows to AUDIT_DATABASE_URL
 * with the app's own relay (shared/services/audit/relay.ts: exactly once there, rows wait on failure),
 * then prints `{"relayed":N,"pending":M}`. Exit status 1 when the audit database refused a batch (the
 * rows of that batch stay in the outbox for the next run), 2 for bad flags or settings.
 */
import { getOrm } from '../../shared/db/orm.js';
import { closeAuditRelay, getAuditRelay } from '../../shared/services/audit/relay.js';
import { UsageError, flags, runCli } from './cli-run.js';

const USAGE = 'npm run audit:relay [-- --max-batches <n>]';

async function pendingRows(): Promise<number> {
  const em = (await getOrm()).em.fork({ clear: true });
  const [row] = await em.execute<{ n: number }[]>(
    'select count(*)::int as n from audit_outbox where relayed_at is null',
  );
  return row?.n ?? 0;
}

runCli(async () => {
  const args = flags({ 'max-batches': { type: 'string' } }, USAGE);
  const maxBatches = Number(args['max-batches'] ?? '1000');
  if (!Number.isInteger(maxBatches) || maxBatches < 1)
    throw new UsageError(`--max-batches must be a whole number ≥ 1\nusage: ${USAGE}`);
  let relayed = 0;
  try {
    const relay = getAuditRelay();
    for (let batch = 0; batch < maxBatches; batch++) {
      const moved = await relay.runOnce();
      if (moved === 0) break;
      relayed += moved;
    }
  } catch (error) {
    // The batch in flight rolled back; the ones before it are in the audit database.
    console.error(`relayed ${relayed} row(s) before the failure`);
    throw error;
  } finally {
    await closeAuditRelay();
  }
  console.log(JSON.stringify({ relayed, pending: await pendingRows() }));
});

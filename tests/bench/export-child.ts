/**
 * Runs one export in a fresh process so its peak RSS is the export's own (`npm run bench export`
 * starts it; not meant to be run by hand).
 */
import { runExport } from '../../shared/services/export/export-runner.js';
import { closeStreamPool } from '../../shared/db/stream-pool.js';
import { silentLogger } from '../../shared/logging/logger.js';

async function main(): Promise<void> {
  const [exportId, tenantId] = process.argv.slice(2);
  const started = performance.now();
  const outcome = await runExport(
    { exportId: exportId!, tenantId: tenantId! },
    { deliveryCount: 1, maxDeliveries: 1 },
    silentLogger,
  );
  const ms = performance.now() - started;
  await closeStreamPool();
  // maxRSS is in KiB.
  process.stdout.write(
    JSON.stringify({ outcome, ms, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n',
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

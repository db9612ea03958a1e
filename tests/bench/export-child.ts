/**
 * Runs one export in a fresh process so its peak RSS is the export's own (`npm run bench export`
 * starts it; not meant to be run by hand). Also samples `process.memoryUsage()` so a growing peak
 * can be told apart: V8 heap, or external memory (Buffers) outside it.
 */
import { runExport } from '../../shared/services/export/export-runner.js';
import { closeStreamPool } from '../../shared/db/stream-pool.js';
import { silentLogger } from '../../shared/logging/logger.js';

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const [exportId, tenantId] = process.argv.slice(2);
  const peak = { heapTotal: 0, heapUsed: 0, external: 0 };
  const sample = (): void => {
    const m = process.memoryUsage();
    peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
  };
  const sampler = setInterval(sample, 100);
  const started = performance.now();
  const outcome = await runExport(
    { exportId: exportId!, tenantId: tenantId! },
    { deliveryCount: 1, maxDeliveries: 1 },
    silentLogger,
  );
  const ms = performance.now() - started;
  clearInterval(sampler);
  sample();
  await closeStreamPool();
  process.stdout.write(
    JSON.stringify({
      outcome,
      ms,
      // maxRSS is in KiB.
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      peakHeapTotalMb: peak.heapTotal / MB,
      peakHeapUsedMb: peak.heapUsed / MB,
      peakExternalMb: peak.external / MB,
    }) + '\n',
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

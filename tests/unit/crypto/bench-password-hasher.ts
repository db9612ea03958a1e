/**
 * Throughput and event-loop delay of PasswordHasher at cost 12, against the baseline of bcryptjs's own
 * async API on the main thread, measured in the same run (machines are noisy: compare the ratio).
 *
 * Not a test (no `.test.ts`): compile and run it, e.g.
 *   npx tsc --outDir /tmp/cryptobench --rootDir . --module NodeNext --moduleResolution NodeNext \
 *     --target ES2022 --strict --skipLibCheck --types node --esModuleInterop \
 *     shared/crypto/*.ts tests/unit/crypto/bench-password-hasher.ts
 *   ln -sfn "$PWD/node_modules" /tmp/cryptobench/node_modules
 *   node /tmp/cryptobench/tests/unit/crypto/bench-password-hasher.js [concurrent=20]
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { PasswordHasher } from '../../../shared/crypto/password-hasher.js';

interface Result {
  label: string;
  hashesPerSecond: number;
  p50: number;
  p99: number;
  max: number;
}

async function measure(
  label: string,
  count: number,
  hashOne: (i: number) => Promise<unknown>,
): Promise<Result> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const start = performance.now();
  await Promise.all(Array.from({ length: count }, (_, i) => hashOne(i)));
  const seconds = (performance.now() - start) / 1000;
  histogram.disable();
  return {
    label,
    hashesPerSecond: count / seconds,
    p50: histogram.percentile(50) / 1e6,
    p99: histogram.percentile(99) / 1e6,
    max: histogram.max / 1e6,
  };
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 20);
  const password = 'correct horse battery staple';
  const hasher = new PasswordHasher({ cost: 12 });
  // Warm-up: start the workers outside the measurement (the pool starts them lazily).
  await Promise.all(Array.from({ length: hasher.poolSize }, () => hasher.hash(password)));

  const results = [
    await measure(`bcryptjs async, main thread, ${count} concurrent`, count, () => bcrypt.hash(password, 12)),
    await measure(`PasswordHasher (${hasher.poolSize} workers), ${count} concurrent hash`, count, (i) =>
      hasher.hash(`${password} ${i}`),
    ),
  ];
  const stored = await hasher.hash(password);
  results.push(
    await measure(`PasswordHasher, ${count} concurrent verify`, count, () => hasher.verify(password, stored)),
  );
  await hasher.close();

  for (const r of results) {
    console.log(
      `${r.label.padEnd(52)} ${r.hashesPerSecond.toFixed(1).padStart(5)} hashes/s   ` +
        `event-loop delay p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms`,
    );
  }
  const [baseline, pooled] = results;
  if (baseline !== undefined && pooled !== undefined) {
    console.log(
      `ratio pool/baseline: throughput ×${(pooled.hashesPerSecond / baseline.hashesPerSecond).toFixed(2)}, ` +
        `event-loop p99 ×${(pooled.p99 / baseline.p99).toFixed(3)}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

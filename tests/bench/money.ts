import { randomUUID } from 'node:crypto';
import { resetSettingsForTests } from '../../shared/config/index.js';
import { runMoneyChaos } from '../reliability/money-chaos.js';
import { testSettings } from '../setup/test-env.js';
import { Progress } from './progress.js';

/**
 * `npm run bench money [-- --size 500] [--seed N] [--no-deploy] [--no-refunds]`: the seeded money chaos run
 * at full size (tests/reliability/money-chaos.ts). Prints progress/ETA, the seed, the counts per scenario
 * and outcome, and the invariant result; exits 1 when the invariant fails. `--seed N` replays a plan;
 * `--no-deploy` leaves out the changed-orchestrator deploy, `--no-refunds` the after-sale refunds and
 * cancellations.
 */
export async function run(args: string[]): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const size = Number(arg('size') ?? 500);
  const seed = Number(arg('seed') ?? Math.floor(Math.random() * 2 ** 31));
  const runId = randomUUID().replace(/-/g, '').slice(0, 12);
  // Secrets of this run only; the chaos run creates and drops its own databases.
  Object.assign(process.env, testSettings(`ecom_bench_money_${runId}`, runId));
  resetSettingsForTests();
  console.log(`money chaos: size ${size}, seed ${seed}`);
  const progress = new Progress('money chaos', size);
  const report = await runMoneyChaos({
    size,
    seed,
    changedOrchestrator: !args.includes('--no-deploy'),
    refunds: !args.includes('--no-refunds'),
    progress: (done) => progress.tick(done),
    log: (line) => console.log(`money chaos: ${line}`),
  });
  console.log(`seed ${report.seed}, size ${report.size}, ${(report.elapsedMs / 1000).toFixed(0)} s`);
  console.log(`scenarios: ${JSON.stringify(report.scenarios)}`);
  console.log(`outcomes: ${JSON.stringify(report.outcomes)}`);
  console.log(`payments: ${JSON.stringify(report.payments)}`);
  console.log(
    `host kills ${report.hostKills}, deploys ${report.deploys} (non-deterministic instances ` +
      `${report.nonDeterministic}), orchestrations terminated ${report.terminated}, webhooks dropped ` +
      `${report.webhooksDropped}, settle rounds ${report.settleRounds}`,
  );
  console.log(`after sale: ${JSON.stringify(report.afterSale)}`);
  console.log(`invariant: ${report.invariant.ok ? 'OK' : 'VIOLATED'}\n${report.invariant.summary()}`);
  if (!report.invariant.ok) process.exitCode = 1;
}

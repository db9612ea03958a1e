import { describe, expect, it } from 'vitest';
import { runMoneyChaos } from './money-chaos.js';

/**
 * The seeded money chaos run at test size (the full 500 is `npm run bench money`). A failure prints the
 * seed: `npm run bench money -- --size 40 --seed N` replays the plan.
 */
describe('money chaos (seeded)', () => {
  it('after ~40 checkouts through every money fault, the sweeper and reconciliation leave the invariant true', async () => {
    const seed = Number(process.env.MONEY_CHAOS_SEED ?? 17);
    const report = await runMoneyChaos({
      size: 40,
      seed,
      log: (line) => console.log(`[money-chaos] ${line}`),
    });
    console.log(
      `[money-chaos] seed ${seed}: ${report.size} checkouts in ${(report.elapsedMs / 1000).toFixed(0)} s; ` +
        `scenarios ${JSON.stringify(report.scenarios)}; outcomes ${JSON.stringify(report.outcomes)}; ` +
        `payments ${JSON.stringify(report.payments)}; host kills ${report.hostKills}; deploys ${report.deploys} ` +
        `(non-deterministic ${report.nonDeterministic}); after sale ${JSON.stringify(report.afterSale)}; ` +
        `terminated ${report.terminated}; ` +
        `webhooks dropped ${report.webhooksDropped}; settle rounds ${report.settleRounds}`,
    );
    const summary = report.invariant.summary();
    const named = Object.entries(report.scenarioOf)
      .filter(([id]) => summary.includes(id))
      .map(([id, scenario]) => `${id}: ${scenario}`);
    if (named.length > 0) console.log(`[money-chaos] orders named by the checker: ${named.join('; ')}`);
    // Every check must hold (the audit replay of a decline-then-success payment once failed here: the
    // checker still ranked `failed` equal to `succeeded`, against issue #17's rule; fixed in the checker).
    const failing = report.invariant.checks.filter((c) => !c.ok);
    expect(failing, `seed ${seed}\n${summary}\n${named.join('\n')}`).toEqual([]);
    expect(Object.values(report.outcomes).reduce((a, b) => a + b, 0)).toBe(40);
    expect(report.hostKills).toBe(1);
    expect(report.deploys).toBe(1);
  }, 600_000);
});

import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { buildCommit } from './before-build.js';
import {
  openE2eTarget,
  summariseClosed,
  type ClosedSamples,
  type E2eCounters,
  type E2eTarget,
} from './checkout-e2e.js';
import { createScratchDatabase, percentile, type ScratchDatabase } from './scratch-db.js';
import { alternating, benchRedisUrl, describeServices, loadLine } from './services.js';

/**
 * Before/after comparison of the end-to-end checkout latency (POST /checkout → order confirmed): an
 * older commit, built by before-build.ts, against this tree, each with its own scratch database pair
 * migrated by its own host from its own migrations, its own host process and its own fake Stripe
 * server (this tree's fake for both: the older code talks to the same Stripe API surface).
 *
 * Fairness: both versions start and warm up first; then, per closed-loop level, rounds alternate which
 * version goes first (AB, BA, AB, …) with the same number of checkouts each, and the version not being
 * measured is frozen (SIGSTOP) once its host has gone quiet — its pollers and timers take no CPU from
 * the other. Percentiles are over all of a version's checkouts at a level; the verdict compares p95.
 */

export interface CompareOptions {
  before: string;
  rounds: number;
  /** Checkouts per version per level, split evenly over the rounds. */
  checkouts: number;
  levels: number[];
  /** The largest acceptable after/before ratio of p95. */
  limit: number;
  /**
   * Run the older commit on its own local host. By default it runs on this tree's: the host stands in
   * for the Functions platform, which in Azure is the same whichever version of the app it runs, so
   * the comparison is of the app alone (before-build.ts).
   */
  ownHost: boolean;
  log: (line: string) => void;
}

interface Side {
  name: 'before' | 'after';
  label: string;
  db: ScratchDatabase;
  target: E2eTarget;
}

const ms = (n: number): string => `${n.toFixed(0)} ms`.padStart(7);

async function headDescription(): Promise<string> {
  const run = promisify(execFile);
  const { stdout: head } = await run('git', ['rev-parse', '--short', 'HEAD']);
  const { stdout: dirty } = await run('git', ['status', '--porcelain', '--untracked-files=no']);
  return `HEAD ${head.trim()}${dirty.trim() ? ' + uncommitted changes' : ''}`;
}

function merge(samples: ClosedSamples[]): ClosedSamples {
  return {
    concurrency: samples[0]!.concurrency,
    totals: samples.flatMap((s) => s.totals),
    accepts: samples.flatMap((s) => s.accepts),
    seconds: samples.reduce((t, s) => t + s.seconds, 0),
    failed: samples.reduce((t, s) => t + s.failed, 0),
    polled: samples.reduce((t, s) => t + s.polled, 0),
  };
}

/**
 * 5th and 95th percentiles of the after/before p95 ratio over bootstrap resamples of each version's
 * latencies: how far the ratio could move by the luck of which checkouts were measured. It does not
 * see drift between rounds (the per-round ratios show that).
 */
export function p95RatioInterval(before: number[], after: number[], resamples = 1000): [number, number] {
  const p95OfResample = (xs: number[]): number =>
    percentile(
      Array.from({ length: xs.length }, () => xs[Math.floor(Math.random() * xs.length)]!).sort(
        (a, b) => a - b,
      ),
      95,
    );
  const ratios = Array.from({ length: resamples }, () => p95OfResample(after) / p95OfResample(before)).sort(
    (a, b) => a - b,
  );
  return [percentile(ratios, 5), percentile(ratios, 95)];
}

/** A version's work at one level, summed over its rounds. */
interface Work {
  checkouts: number;
  hostCpuSeconds: number;
  postgresCpuSeconds: number;
  machineCpuSeconds: number;
  commits: number;
  stripe: Map<string, number>;
}

function addWork(
  into: Map<string, Work>,
  key: string,
  start: E2eCounters,
  end: E2eCounters,
  checkouts: number,
): void {
  const w = into.get(key) ?? {
    checkouts: 0,
    hostCpuSeconds: 0,
    postgresCpuSeconds: 0,
    machineCpuSeconds: 0,
    commits: 0,
    stripe: new Map<string, number>(),
  };
  w.checkouts += checkouts;
  w.hostCpuSeconds += end.hostCpuSeconds - start.hostCpuSeconds;
  w.postgresCpuSeconds += end.postgresCpuSeconds - start.postgresCpuSeconds;
  w.machineCpuSeconds += end.machineCpuSeconds - start.machineCpuSeconds;
  w.commits += end.commits - start.commits;
  for (const [call, n] of end.stripe)
    w.stripe.set(call, (w.stripe.get(call) ?? 0) + n - (start.stripe.get(call) ?? 0));
  into.set(key, w);
}

/**
 * e.g. `      after  per checkout: host CPU 41 ms, PostgreSQL CPU 12 ms, machine CPU 70 ms, 9.00 DB commits;
 * Stripe calls: POST /v1/payment_intents 1.00, …`. At a level that saturates the cores, throughput (and so
 * latency) follows the machine CPU per checkout.
 */
/** CPU seconds over a version's checkouts, as whole ms per checkout. */
const msPer = (seconds: number, w: Work): string => ((1000 * seconds) / w.checkouts).toFixed(0);

/** The part of a level's CPU spent after its last checkout, until the host went quiet. */
function describeDeferred(all: Work, during: Work): string {
  const ms = (field: 'hostCpuSeconds' | 'postgresCpuSeconds' | 'machineCpuSeconds'): string =>
    msPer(all[field] - during[field], all);
  return (
    `             of which after the level (deferred work): host CPU ${ms('hostCpuSeconds')} ms, ` +
    `PostgreSQL CPU ${ms('postgresCpuSeconds')} ms, machine CPU ${ms('machineCpuSeconds')} ms`
  );
}

function describeWork(name: string, w: Work | undefined): string {
  if (!w || w.checkouts === 0) return `      ${name}: no work counted`;
  const per = (n: number): string => (n / w.checkouts).toFixed(2);
  const ms = (seconds: number): string => msPer(seconds, w);
  const calls = [...w.stripe]
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([call, n]) => `${call} ${per(n)}`)
    .join(', ');
  return (
    `      ${name.padEnd(6)} per checkout: host CPU ${ms(w.hostCpuSeconds)} ms, PostgreSQL CPU ` +
    `${ms(w.postgresCpuSeconds)} ms, machine CPU ${ms(w.machineCpuSeconds)} ms, ` +
    `${per(w.commits)} DB commits; Stripe calls: ${calls || 'none'}`
  );
}

export async function runCompare(options: CompareOptions): Promise<void> {
  const { log } = options;
  const built = await buildCommit(options.before, log, { onThisHost: !options.ownHost });
  // Trees from before the shipping address reject the field (their body schema is strict).
  const schema = path.join(built.root, 'shared', 'schemas', 'checkout.ts');
  const beforeTakesAddress =
    existsSync(schema) && (await readFile(schema, 'utf8')).includes('shippingAddress');
  const perRound = Math.max(1, Math.ceil(options.checkouts / options.rounds));
  const mailDir = await mkdtemp(path.join(tmpdir(), 'ecommerce-api-bench-mail-'));
  const sides: Side[] = [];
  try {
    console.log(
      `checkout end to end, before/after — before ${built.commit.slice(0, 7)} ("${built.subject}")` +
        `${built.reused ? ', build reused' : ''}; after ${await headDescription()}`,
    );
    console.log(
      `  ${options.rounds} rounds × ${perRound} checkouts per version per level, alternating which goes ` +
        'first; the idle version frozen (SIGSTOP) after its host went quiet',
    );
    console.log(
      describeServices({
        redisUrl: benchRedisUrl(),
        stripe: "this tree's fake for both versions (in this process, loopback), one server each",
      }),
    );
    console.log(
      `  POST /checkout body: before ${beforeTakesAddress ? 'with' : 'without'} a shipping address, after with`,
    );
    console.log(
      built.onThisHost
        ? "  local host: this tree's for both versions (the platform stand-in; --own-host runs the older one on its own)"
        : "  local host: each version's own (--own-host): the comparison includes the host's changes since",
    );
    console.log(`at start: ${loadLine()}`);

    const clients = Math.max(...options.levels);
    for (const [name, root, address] of [
      ['before', built.root, beforeTakesAddress],
      ['after', process.cwd(), true],
    ] as const) {
      const db = await createScratchDatabase(`cmp_${name}`, { migrate: false });
      try {
        log(`starting the ${name} host (${root}), migrating its own database, warming up`);
        const target = await openE2eTarget({
          url: db.url,
          auditUrl: db.auditUrl,
          root,
          migrate: true,
          shippingAddress: address,
          clients,
          warmup: 16,
          env: { LOCAL_MAIL_DIR: mailDir },
          log,
        });
        sides.push({ name, label: name === 'before' ? built.commit.slice(0, 7) : 'HEAD', db, target });
        await target.pause();
      } catch (error) {
        await db.drop();
        throw error;
      }
    }
    const [before, after] = sides as [Side, Side];

    const settleWaits: number[] = [];
    const work = new Map<string, Work>();
    const measure = async (
      side: Side,
      concurrency: number,
      round: number,
      into: ClosedSamples[],
    ): Promise<void> => {
      const start = await side.target.counters();
      side.target.resume();
      into.push(
        await side.target.closed(
          { concurrency, checkouts: perRound },
          `  ${concurrency} client${concurrency === 1 ? '' : 's'}, round ${round + 1}/${options.rounds}, ${side.name.padEnd(6)}`,
        ),
      );
      const levelEnd = await side.target.counters();
      settleWaits.push(await side.target.pause());
      // The level's trailing work (done before the host went quiet) counts: it is part of a checkout.
      // It is also kept apart: work a version defers past the level competes less with its checkouts.
      addWork(work, `${side.name} ${concurrency}`, start, await side.target.counters(), perRound);
      addWork(work, `${side.name} ${concurrency} during`, start, levelEnd, perRound);
    };

    const verdicts: string[] = [];
    for (const concurrency of options.levels) {
      const samples: Record<Side['name'], ClosedSamples[]> = { before: [], after: [] };
      for (let round = 0; round < options.rounds; round++)
        await alternating(
          round,
          () => measure(before, concurrency, round, samples.before),
          () => measure(after, concurrency, round, samples.after),
        );
      const stats = {
        before: summariseClosed(merge(samples.before)),
        after: summariseClosed(merge(samples.after)),
      };
      console.log(
        `\n  ${concurrency} concurrent client${concurrency === 1 ? '' : 's'} (POST /checkout → confirmed)`,
      );
      for (const side of sides) {
        const s = stats[side.name];
        console.log(
          `    ${side.name.padEnd(6)} ${side.label.padEnd(7)} p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  p99 ${ms(s.p99)}` +
            `   ${s.perSecond.toFixed(1).padStart(5)} checkouts/s   POST answered p95 ${ms(s.acceptP95)}` +
            `${s.failed ? `   ${s.failed} not confirmed` : ''}${s.polled ? `   ${s.polled} timed by the fallback poll` : ''}`,
        );
      }
      for (const side of sides) {
        const all = work.get(`${side.name} ${concurrency}`);
        const during = work.get(`${side.name} ${concurrency} during`);
        console.log(describeWork(side.name, all));
        if (all && during && all.checkouts > 0) console.log(describeDeferred(all, during));
      }
      const roundRatios = samples.after.map(
        (a, i) => summariseClosed(a).p95 / summariseClosed(samples.before[i]!).p95,
      );
      const ratio = stats.after.p95 / stats.before.p95;
      const met = ratio <= options.limit;
      const [low, high] = p95RatioInterval(merge(samples.before).totals, merge(samples.after).totals);
      // An interval that straddles the limit means this run cannot tell: more rounds, or a quieter machine.
      const sure = high <= options.limit || low > options.limit ? '' : ', not conclusive';
      console.log(
        `    → p95 after/before ${ratio.toFixed(2)}× (limit ≤ ${options.limit.toFixed(2)}×: ${met ? 'met' : 'NOT met'}${sure});` +
          ` 90 % bootstrap interval ${low.toFixed(2)}–${high.toFixed(2)}×; per round ${roundRatios.map((r) => r.toFixed(2)).join(' ')}`,
      );
      verdicts.push(
        `${concurrency} client${concurrency === 1 ? '' : 's'} ${ratio.toFixed(2)}× ${met ? 'met' : 'NOT met'}${sure}`,
      );
    }
    const waited = [...settleWaits].sort((a, b) => a - b);
    console.log(
      `\n  verdict (p95 after/before ≤ ${options.limit.toFixed(2)}×): ${verdicts.join('; ')}` +
        `\n  hosts went quiet before being frozen after ${ms(waited[0] ?? 0).trim()}–${ms(waited[waited.length - 1] ?? 0).trim()}`,
    );
  } finally {
    console.log(`at end: ${loadLine()}`);
    for (const side of sides) {
      await side.target.close();
      await side.db.drop();
    }
    await rm(mailDir, { recursive: true, force: true });
  }
}

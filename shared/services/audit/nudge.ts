import type { Logger } from '../../logging/logger.js';

/**
 * "Relay soon": called after a transaction that wrote audit rows commits, so rows reach the audit
 * database within moments instead of waiting for the relay's timer. Nudges within the delay coalesce
 * into one run. Nothing happens until a runner is installed (the timer module installs the real relay),
 * so code paths under test never relay behind a test's back. Failures only log: the timer retries.
 */
type Runner = () => Promise<unknown>;

let runner: Runner | undefined;
let scheduled: NodeJS.Timeout | undefined;
let running: Promise<void> | undefined;

export function setAuditNudgeRunner(next: Runner | undefined): void {
  runner = next;
}

/**
 * 250 ms rather than less: under load every checkout step nudges, and each relay run is a transaction
 * of three statements plus a write to the audit database whatever its batch size. A longer window puts
 * the rows of several checkouts in one run (~0.7 runs per checkout at 50 ms, ~0.2 at 250 ms) while rows
 * still reach the audit database within a fraction of a second.
 */
export function nudgeAuditRelay(log?: Logger, delayMs = 250): void {
  if (!runner || scheduled) return;
  const run = runner;
  scheduled = setTimeout(() => {
    scheduled = undefined;
    // One run at a time; a nudge during a run is covered by the run already in progress or the timer.
    if (running) return;
    running = run()
      .then(() => undefined)
      .catch((error: unknown) => {
        log?.warn(
          'audit relay nudge failed; the timer will retry',
          error instanceof Error ? error.message : '',
        );
      })
      .finally(() => {
        running = undefined;
      });
  }, delayMs);
  scheduled.unref();
}

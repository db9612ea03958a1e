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

export function nudgeAuditRelay(log?: Logger, delayMs = 50): void {
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

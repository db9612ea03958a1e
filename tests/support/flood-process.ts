/**
 * A request flood in a process of its own (`fork`ed by tests/support/flood.ts): an attacker's requests
 * cost the attacker's CPU, not the server's, and a load generator in the measuring process would delay
 * the measurer's own requests on its event loop. Runs at a lower CPU priority than its parent, so on a
 * shared machine it takes what the host and the measurer leave.
 *
 * argv: url, requests per second, maximum in flight. Messages from the parent: `start`, `stop`; after
 * `stop` it answers with a FloodReport and waits for the next `start` (or the disconnect).
 */
import os from 'node:os';
import { paced } from '../reliability/support/load.js';

export interface FloodReport {
  /** Answers by HTTP status (0: no answer). */
  statuses: [number, number][];
  /** Requests answered per second over the phase (the rate the target actually saw). */
  achievedPerSecond: number;
  /** Requests not sent because `maxInFlight` were outstanding (the target fell behind). */
  skipped: number;
  seconds: number;
}

export type FloodCommand = 'start' | 'stop';

function lowerPriority(by: number): void {
  try {
    os.setPriority(Math.min(19, os.getPriority() + by));
  } catch {
    // Not permitted here: the flood runs at the parent's priority.
  }
}

function main(): void {
  const [url, perSecondText, maxInFlightText] = process.argv.slice(2);
  const perSecond = Number(perSecondText);
  const maxInFlight = Number(maxInFlightText);
  if (!url || !(perSecond > 0) || !(maxInFlight > 0))
    throw new Error('usage: flood-process URL PER_SECOND MAX_IN_FLIGHT');
  lowerPriority(3);
  let running: { stop: () => Promise<Map<number, number>>; skipped: () => number } | undefined;
  let startedAt = 0;
  process.on('message', (command: FloodCommand) => {
    if (command === 'start' && !running) {
      startedAt = performance.now();
      running = paced(perSecond, maxInFlight, async () => {
        const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        return res.status;
      });
      process.send?.('started');
    } else if (command === 'stop' && running) {
      const flood = running;
      running = undefined;
      void flood.stop().then((statuses) => {
        const seconds = (performance.now() - startedAt) / 1000;
        const answered = [...statuses].reduce((n, [status, count]) => n + (status ? count : 0), 0);
        const report: FloodReport = {
          statuses: [...statuses],
          achievedPerSecond: answered / seconds,
          skipped: flood.skipped(),
          seconds,
        };
        process.send?.(report);
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.('ready');
}

main();

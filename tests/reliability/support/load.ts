/** Small load helpers for the abuse suite: timed requests, percentiles, closed-loop floods. */

export async function timedGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ ms: number; status: number }> {
  const started = performance.now();
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
  await res.arrayBuffer();
  return { ms: performance.now() - started, status: res.status };
}

export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Runs `total` calls of `request` with at most `concurrency` in flight. */
export async function burst(
  total: number,
  concurrency: number,
  request: () => Promise<number>,
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        const status = await request().catch(() => 0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

/**
 * An open-loop flood: `perSecond` calls of `request` started at a steady pace whatever the answers
 * take (at most `maxInFlight` outstanding), like many independent clients; `stop()` resolves with the
 * answers' status counts; `skipped()` counts the calls not made because `maxInFlight` were outstanding.
 */
export function paced(
  perSecond: number,
  maxInFlight: number,
  request: () => Promise<number>,
): { stop: () => Promise<Map<number, number>>; skipped: () => number } {
  const statuses = new Map<number, number>();
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  let sent = 0;
  let skipped = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
    while (sent < due && pending.size < maxInFlight) {
      sent += 1;
      const call: Promise<void> = request()
        .catch(() => 0)
        .then((status) => {
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          pending.delete(call);
        });
      pending.add(call);
    }
    if (sent < due) {
      // Over the in-flight cap: those calls are skipped, not queued.
      skipped += due - sent;
      sent = due;
    }
  }, 5);
  return {
    skipped: () => skipped,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(pending);
      return statuses;
    },
  };
}

import type { Redis } from 'ioredis';

/** The most keys one coalesced MGET carries; a larger queue is sent as several, one after another. */
const MAX_KEYS = 1_000;

interface Waiting {
  keys: readonly string[];
  resolve: (values: (string | null)[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces the MGETs of concurrent reads into one MGET: those issued in the same turn of the event
 * loop, plus those issued while the previous batch was out (at most one batch is in flight, as with
 * ioredis' auto-pipelining). Under load each cached read otherwise paid for its own command object,
 * timeout timer, reply callbacks and pipeline bookkeeping — more than the rest of the read.
 *
 * Each read still gets its keys from a single command sent after the read began, so it sees every
 * write acknowledged before it began (an invalidation is never missed) and all its keys as of one
 * instant.
 */
export class MgetBatcher {
  private queue: Waiting[] = [];
  private scheduled = false;
  private inFlight = false;

  constructor(readonly client: Redis) {}

  mget(keys: readonly string[]): Promise<(string | null)[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ keys, resolve, reject });
      if (this.scheduled || this.inFlight) return;
      this.scheduled = true;
      // Like auto-pipelining: reads arriving in the same I/O phase join before the command leaves.
      setImmediate(() => {
        this.scheduled = false;
        this.send();
      });
    });
  }

  private send(): void {
    if (this.queue.length === 0) return;
    let count = 0;
    let end = 0;
    while (end < this.queue.length && (end === 0 || count + this.queue[end]!.keys.length <= MAX_KEYS))
      count += this.queue[end++]!.keys.length;
    const batch = this.queue.slice(0, end);
    this.queue = this.queue.slice(end);
    this.inFlight = true;
    // An async wrapper turns a synchronous throw of the client into a rejection like any other.
    const reply = (async () => this.client.mget(batch.flatMap((waiting) => waiting.keys)))();
    reply.then(
      (values) => {
        let at = 0;
        for (const waiting of batch) {
          waiting.resolve(values.slice(at, at + waiting.keys.length));
          at += waiting.keys.length;
        }
        this.inFlight = false;
        // What queued meanwhile leaves at once: it has already waited a round trip.
        this.send();
      },
      (error: unknown) => {
        // Reads queued behind a command that failed (a dead or hung connection: MGET has no per-key
        // errors) fail with it rather than wait out a timeout of their own: a hung Redis costs a read at
        // most one command timeout, and the caller's breaker then skips Redis.
        const queued = this.queue;
        this.queue = [];
        this.inFlight = false;
        for (const waiting of batch) waiting.reject(error);
        for (const waiting of queued) waiting.reject(error);
      },
    );
  }
}

import type { Redis } from 'ioredis';
import { whenReady } from './redis.js';
import { SingleFlight } from './single-flight.js';
import type { Logger } from '../logging/logger.js';
import { silentLogger } from '../logging/logger.js';
import { trackMetric } from '../telemetry/index.js';

export interface CacheOptions {
  /** How long a value lives (the freshness bound when an invalidation is lost). */
  ttlSeconds: number;
  /** How long the instance loading a value holds the cross-instance lock at most. */
  lockMs: number;
  /** How long another instance waits for the lock holder's value before loading it itself. */
  waitMs: number;
  /** Poll interval while waiting for the lock holder. */
  pollMs: number;
  /** After a Redis failure, skip Redis for this long (no per-request timeouts during an outage). */
  breakerMs: number;
  /** Generation keys live this long after their last bump (must exceed ttlSeconds; see below). */
  generationTtlSeconds: number;
}

export const DEFAULT_CACHE_OPTIONS: CacheOptions = {
  ttlSeconds: 300,
  lockMs: 5_000,
  waitMs: 2_000,
  pollMs: 20,
  breakerMs: 2_000,
  generationTtlSeconds: 86_400,
};

/** How a read was answered; for tests and telemetry. */
export type CacheOutcome = 'hit' | 'miss' | 'shared' | 'waited' | 'bypass';

export interface CacheRead<T> {
  value: T;
  outcome: CacheOutcome;
}

/**
 * A read-through cache on Redis with generation-stamped values.
 *
 * Invalidation: a value is stored with the generations (counters in Redis) it was computed under and is
 * valid only while they are unchanged; a write bumps the generations after it commits. One MGET reads
 * the generations and the value together. Because the generations are read *before* the database, a
 * reader racing a write can at worst store an old value under an old generation, which nobody reads
 * again — unlike delete-on-write, where a slow reader can put stale data back after the delete. No
 * pattern deletes (KEYS or SCAN) are needed: stale values just expire.
 *
 * Stampedes: concurrent misses of one key in this process share one load (single flight); across
 * instances a short `SET NX PX` lock lets one instance load while the others poll for its value (and
 * load themselves if it does not come within `waitMs`, so a crashed holder costs latency, not errors).
 *
 * Redis down: every Redis call is guarded; on failure the read goes to the loader (the database) and a
 * breaker skips Redis for `breakerMs`, so an outage costs no per-request timeouts.
 */
export class GenerationalCache {
  private readonly flights = new SingleFlight();
  private readonly options: CacheOptions;
  private downUntil = 0;
  private downClient: Redis | undefined;
  /** Bumps not yet confirmed by Redis: key → sequence of its latest request. */
  private readonly pending = new Map<string, number>();
  private sequence = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 0;

  constructor(
    private readonly redis: () => Redis,
    options: Partial<CacheOptions> = {},
  ) {
    this.options = { ...DEFAULT_CACHE_OPTIONS, ...options };
    if (this.options.generationTtlSeconds <= this.options.ttlSeconds) {
      // A generation key that expired before its values could let an old value match generation "0".
      throw new Error('generationTtlSeconds must exceed ttlSeconds');
    }
  }

  /**
   * The value under `key` if it was computed under the current `generations`, else `load()`'s result
   * (stored for the next reader). `load` may return null (cached too: e.g. "no such product").
   */
  async read<T>(
    key: string,
    generations: readonly string[],
    load: () => Promise<T>,
    log: Logger = silentLogger,
  ): Promise<CacheRead<T>> {
    let client = await this.client(log);
    // Invalidations this instance could not deliver go first, or it could serve what it invalidated.
    if (client && this.pending.size > 0 && !(await this.flush(client, log))) client = undefined;
    // Without Redis there is no generation to tell a load that began before a write from one after it,
    // so bypassed reads are not shared: each goes to the database (correct data beats fewer queries).
    if (!client) return { value: await load(), outcome: 'bypass' };
    let stamp: string;
    try {
      const values = await client.mget(...generations, key);
      stamp = values
        .slice(0, generations.length)
        .map((v) => v ?? '0')
        .join('.');
      const cached = values[generations.length];
      const hit = cached ? decode<T>(cached, stamp) : undefined;
      if (hit) return { value: hit.value, outcome: 'hit' };
    } catch (error) {
      this.trip(client, error, log);
      return { value: await load(), outcome: 'bypass' };
    }
    // The flight key carries the stamp: a reader who already sees a newer generation must not join a
    // load that started before the write.
    let leader = false;
    const value = await this.flights.run(`${key}|${stamp}`, async () => {
      leader = true;
      return this.fill(client, key, stamp, load, log);
    });
    return { value: value.value, outcome: leader ? value.outcome : 'shared' };
  }

  /**
   * Invalidates every value stamped with these generations. Call after the write has committed.
   * Never throws (the write already happened): a bump that cannot reach Redis is kept and retried, and
   * this instance flushes it before it reads from Redis again, so it never serves what it invalidated.
   */
  async bump(generations: readonly string[], log: Logger = silentLogger): Promise<boolean> {
    for (const key of generations) this.pending.set(key, ++this.sequence);
    const client = await this.client(log, true);
    if (client && (await this.flush(client, log))) return true;
    log.error('cache invalidation could not reach Redis; it will be retried');
    trackMetric('cache.invalidation_failed', 1);
    this.scheduleRetry();
    return false;
  }

  /** Bumps every pending generation; false (and the breaker tripped) when Redis fails. */
  private async flush(client: Redis, log: Logger): Promise<boolean> {
    if (this.pending.size === 0) return true;
    const entries = [...this.pending];
    try {
      const multi = client.multi();
      for (const [key] of entries) multi.incr(key).expire(key, this.options.generationTtlSeconds);
      const results = await multi.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('transaction aborted');
      // A key requested again meanwhile stays: its newer request needs an increment after it.
      for (const [key, seq] of entries) if (this.pending.get(key) === seq) this.pending.delete(key);
      return true;
    } catch (error) {
      this.trip(client, error, log);
      return false;
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.pending.size === 0) return;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2 || 500, 30_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void (async () => {
        const client = await this.client(silentLogger, true);
        if (client && (await this.flush(client, silentLogger))) this.retryDelayMs = 0;
        else this.scheduleRetry();
      })();
    }, this.retryDelayMs);
    this.retryTimer.unref();
  }

  /** Generations whose bump has not reached Redis yet (for tests and health). */
  get pendingInvalidations(): number {
    return this.pending.size;
  }

  private async fill<T>(
    client: Redis,
    key: string,
    stamp: string,
    load: () => Promise<T>,
    log: Logger,
  ): Promise<CacheRead<T>> {
    const lockKey = `lock:${key}|${stamp}`;
    let locked: boolean;
    try {
      locked = (await client.set(lockKey, '1', 'PX', this.options.lockMs, 'NX')) === 'OK';
    } catch (error) {
      this.trip(client, error, log);
      return { value: await load(), outcome: 'bypass' };
    }
    if (!locked) {
      const waited = await this.waitFor<T>(client, key, stamp, log);
      if (waited) return { value: waited.value, outcome: 'waited' };
    }
    const value = await load();
    try {
      const multi = client.multi().set(key, encode(stamp, value), 'EX', this.options.ttlSeconds);
      if (locked) multi.del(lockKey);
      await multi.exec();
    } catch (error) {
      this.trip(client, error, log);
    }
    return { value, outcome: 'miss' };
  }

  /** Polls for the lock holder's value; undefined when it does not come in time. */
  private async waitFor<T>(
    client: Redis,
    key: string,
    stamp: string,
    log: Logger,
  ): Promise<{ value: T } | undefined> {
    const deadline = Date.now() + this.options.waitMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
      try {
        const cached = await client.get(key);
        const hit = cached ? decode<T>(cached, stamp) : undefined;
        if (hit) return hit;
      } catch (error) {
        this.trip(client, error, log);
        return undefined;
      }
    }
    return undefined;
  }

  /** The client to use, or undefined while Redis is considered down (`force`: try anyway). */
  private async client(log: Logger, force = false): Promise<Redis | undefined> {
    let client: Redis;
    try {
      client = this.redis();
    } catch (error) {
      log.warn('cache unavailable', errorMessage(error));
      return undefined;
    }
    if (!force && this.downClient === client && Date.now() < this.downUntil) return undefined;
    // ioredis-mock has no status; a real client still making its first connection gets a short grace.
    const status = (client as { status?: string }).status;
    if (status === 'wait' || status === 'connecting' || status === 'connect') await whenReady(client, 250);
    return client;
  }

  private trip(client: Redis, error: unknown, log: Logger): void {
    const wasUp = this.downClient !== client || Date.now() >= this.downUntil;
    this.downClient = client;
    this.downUntil = Date.now() + this.options.breakerMs;
    if (wasUp) {
      log.warn('cache: Redis unavailable, reading from the database', errorMessage(error));
      trackMetric('cache.redis_unavailable', 1);
    }
  }
}

/** `<stamp>\n<json>`: the stamp is compared before anything is parsed. */
function encode(stamp: string, value: unknown): string {
  return `${stamp}\n${JSON.stringify(value ?? null)}`;
}

function decode<T>(raw: string, stamp: string): { value: T } | undefined {
  const newline = raw.indexOf('\n');
  if (newline < 0 || raw.slice(0, newline) !== stamp) return undefined;
  try {
    return { value: JSON.parse(raw.slice(newline + 1)) as T };
  } catch {
    return undefined;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'unknown error';
}

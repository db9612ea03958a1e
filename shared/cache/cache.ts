import type { Redis } from 'ioredis';
import { MgetBatcher } from './mget-batch.js';
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

/** A lookup's result: a value (loaded, or parsed from Redis), or the JSON text found in Redis. */
type Found<T> =
  { loaded: true; value: T; outcome: CacheOutcome } | { loaded: false; text: string; outcome: CacheOutcome };

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
 * the generations and the value together (concurrent reads share one MGET: see MgetBatcher). Because
 * the generations are read *before* the database, a reader racing a write can at worst store an old
 * value under an old generation, which nobody reads again — unlike delete-on-write, where a slow reader
 * can put stale data back after the delete. No pattern deletes (KEYS or SCAN) are needed: stale values
 * just expire.
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
  /** Coalesces concurrent reads' MGETs (recreated when the client changes). */
  private batcher: MgetBatcher | undefined;

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
    const found = await this.lookup(key, generations, load, log, true);
    if (found.loaded) return { value: found.value, outcome: found.outcome };
    // Text another instance stored while this one waited, but that does not parse: load it here.
    const parsed = parse<T>(found.text);
    return parsed
      ? { value: parsed.value, outcome: found.outcome }
      : { value: await load(), outcome: 'bypass' };
  }

  /**
   * Like `read`, but the value as its JSON text (`JSON.stringify(value ?? null)`): a hit is handed
   * over exactly as stored, never parsed — for callers that only send the value on (an HTTP body).
   * Values are only ever stored by this class, as JSON.stringify's output.
   */
  async readJson<T>(
    key: string,
    generations: readonly string[],
    load: () => Promise<T>,
    log: Logger = silentLogger,
  ): Promise<CacheRead<string>> {
    const found = await this.lookup(key, generations, load, log, false);
    return {
      value: found.loaded ? JSON.stringify(found.value ?? null) : found.text,
      outcome: found.outcome,
    };
  }

  /** `parseHits`: a hit is parsed here, and one that does not parse counts as a miss. */
  private async lookup<T>(
    key: string,
    generations: readonly string[],
    load: () => Promise<T>,
    log: Logger,
    parseHits: boolean,
  ): Promise<Found<T>> {
    let client = this.readyClient() ?? (await this.client(log));
    // Invalidations this instance could not deliver go first, or it could serve what it invalidated.
    if (client && this.pending.size > 0 && !(await this.flush(client, log))) client = undefined;
    // Without Redis there is no generation to tell a load that began before a write from one after it,
    // so bypassed reads are not shared: each goes to the database (correct data beats fewer queries).
    if (!client) return { loaded: true, value: await load(), outcome: 'bypass' };
    let stamp = '';
    try {
      const values = await this.batcherFor(client).mget([...generations, key]);
      for (let i = 0; i < generations.length; i++) stamp += `${i > 0 ? '.' : ''}${values[i] ?? '0'}`;
      const cached = values[generations.length];
      const text = cached ? payload(cached, stamp) : undefined;
      if (text !== undefined) {
        if (!parseHits) return { loaded: false, text, outcome: 'hit' };
        const parsed = parse<T>(text);
        if (parsed) return { loaded: true, value: parsed.value, outcome: 'hit' };
      }
    } catch (error) {
      this.trip(client, error, log);
      return { loaded: true, value: await load(), outcome: 'bypass' };
    }
    // The flight key carries the stamp: a reader who already sees a newer generation must not join a
    // load that started before the write.
    let leader = false;
    const found = await this.flights.run(`${key}|${stamp}`, async () => {
      leader = true;
      return this.fill(client, key, stamp, load, log);
    });
    return leader ? found : { ...found, outcome: 'shared' };
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
  ): Promise<Found<T>> {
    const lockKey = `lock:${key}|${stamp}`;
    let locked: boolean;
    try {
      locked = (await client.set(lockKey, '1', 'PX', this.options.lockMs, 'NX')) === 'OK';
    } catch (error) {
      this.trip(client, error, log);
      return { loaded: true, value: await load(), outcome: 'bypass' };
    }
    if (!locked) {
      const text = await this.waitFor(client, key, stamp, log);
      if (text !== undefined) return { loaded: false, text, outcome: 'waited' };
    }
    const value = await load();
    try {
      const multi = client.multi().set(key, encode(stamp, value), 'EX', this.options.ttlSeconds);
      if (locked) multi.del(lockKey);
      await multi.exec();
    } catch (error) {
      this.trip(client, error, log);
    }
    return { loaded: true, value, outcome: 'miss' };
  }

  /** Polls for the lock holder's value (its JSON text); undefined when it does not come in time. */
  private async waitFor(client: Redis, key: string, stamp: string, log: Logger): Promise<string | undefined> {
    const deadline = Date.now() + this.options.waitMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
      try {
        const cached = await client.get(key);
        const text = cached ? payload(cached, stamp) : undefined;
        if (text !== undefined) return text;
      } catch (error) {
        this.trip(client, error, log);
        return undefined;
      }
    }
    return undefined;
  }

  private batcherFor(client: Redis): MgetBatcher {
    if (this.batcher?.client !== client) this.batcher = new MgetBatcher(client);
    return this.batcher;
  }

  /**
   * The client when it can be used at once (connected, breaker closed), without the awaits of
   * `client()`; undefined means "ask `client()`", which decides.
   */
  private readyClient(): Redis | undefined {
    let client: Redis;
    try {
      client = this.redis();
    } catch {
      return undefined;
    }
    if (this.downClient === client && Date.now() < this.downUntil) return undefined;
    return (client as { status?: string }).status === 'ready' ? client : undefined;
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

/** The JSON text of a stored value when it carries `stamp`, else undefined. */
function payload(raw: string, stamp: string): string | undefined {
  const newline = raw.indexOf('\n');
  if (newline !== stamp.length || !raw.startsWith(stamp)) return undefined;
  return raw.slice(newline + 1);
}

function parse<T>(text: string): { value: T } | undefined {
  try {
    return { value: JSON.parse(text) as T };
  } catch {
    return undefined;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'unknown error';
}

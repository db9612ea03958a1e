/**
 * A fixed-window budget per key (client address, user, tenant), counted in Redis so every instance
 * shares one budget. Written for logins (10 per 15 minutes per address, ADR 0010) and used by every
 * limited route (policies in limits.ts). Decisions (ADR 0010, 0021):
 *
 * - Every attempt counts, successful or not, and a success does not reset the count. Counting only
 *   failures, or resetting on success, lets anyone who owns one account interleave a good login after
 *   every nine guesses and guess forever. The cost: ten people behind one NAT share ten logins per
 *   quarter hour — the reference's rule as written.
 * - The count is taken before the password is checked, so a blocked client costs no bcrypt work.
 * - When Redis fails, limiting does not stop: a per-instance in-memory limiter with the same budget
 *   decides (so N instances allow at most N × 10), and the fallback is logged (throttled) and sent to
 *   telemetry on every use. The in-memory limiter counts every attempt all the time, not only during an
 *   outage, so an outage in the middle of an attack does not hand out fresh budgets.
 *   rate-limiter-flexible's own `insuranceLimiter` does the same failover, but silently and with a
 *   memory store that only starts counting when the outage starts — hence this wrapper.
 * - Failing closed (refusing every login while Redis is down) would turn a cache outage into a login
 *   outage; failing open would turn it into unlimited guessing. The per-instance limit is the middle.
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { whenReady } from '../../cache/redis.js';
import { RateLimitedException } from '../../errors/index.js';
import type { Logger } from '../../logging/logger.js';
import { trackEvent, trackMetric } from '../../telemetry/index.js';
import { clientKey } from './client-key.js';

export interface RateLimitPolicy {
  /** Names the limit in metrics and logs (`login`, `register-ip`…). */
  name: string;
  /** What a refused client is told (the problem document's `detail`). */
  message: string;
  /**
   * `address`: keys are client addresses (IPv6 folded to its /64, see client-key.ts); `id`: keys are
   * ids (user, tenant) used as they are.
   */
  keyKind: 'address' | 'id';
  /** Attempts allowed per window. */
  points: number;
  /** Window length in seconds (fixed window, starting at the first attempt). */
  durationSeconds: number;
  /** Redis key prefix (after the client's own REDIS_KEY_PREFIX). */
  keyPrefix: string;
}

/** How long the first call may wait for the initial Redis connection (never again afterwards). */
const FIRST_CONNECT_WAIT_MS = 500;
/** At most one fallback warning per this many milliseconds; telemetry still counts every use. */
const WARN_EVERY_MS = 60_000;

export type RateLimitSource = 'redis' | 'memory' | 'memory-fallback';

export interface RateLimitVerdict {
  remaining: number;
  /** Which store decided: Redis, the memory store by configuration, or the memory store because Redis failed. */
  source: RateLimitSource;
}

type Outcome = { allowed: true; res: RateLimiterRes } | { allowed: false; res: RateLimiterRes };

async function settle(attempt: Promise<RateLimiterRes>): Promise<Outcome> {
  try {
    return { allowed: true, res: await attempt };
  } catch (error) {
    if (error instanceof RateLimiterRes) return { allowed: false, res: error };
    throw error;
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

export class RateLimiter {
  readonly #local: RateLimiterMemory;
  #shared: { client: Redis; limiter: RateLimiterRedis } | undefined;
  #firstCall = true;
  #lastWarning = 0;

  /**
   * @param store the shared Redis client, or null to count in this process only (the local host's
   *   single-process stand-in). Called per attempt so a reconnected client is picked up.
   */
  constructor(
    private readonly store: () => Redis | null,
    readonly policy: RateLimitPolicy,
  ) {
    this.#local = new RateLimiterMemory({
      points: policy.points,
      duration: policy.durationSeconds,
      keyPrefix: policy.keyPrefix,
    });
  }

  /**
   * Counts one attempt by this key (a client address or an id, per the policy's `keyKind`).
   * @throws RateLimitedException (429, Retry-After) when the budget is spent.
   */
  async consume(subject: string, log: Logger): Promise<RateLimitVerdict> {
    const key = this.policy.keyKind === 'address' ? clientKey(subject) : subject;
    const local = await settle(this.#local.consume(key));
    const client = this.store();
    if (client === null) return this.#decide(local, 'memory');
    try {
      return this.#decide(await settle(this.#consumeShared(client, key)), 'redis');
    } catch (error) {
      if (error instanceof RateLimitedException) throw error;
      this.#reportFallback(error, log);
      return this.#decide(local, 'memory-fallback');
    }
  }

  async #consumeShared(client: Redis, key: string): Promise<RateLimiterRes> {
    if (this.#shared?.client !== client) {
      this.#shared = {
        client,
        limiter: new RateLimiterRedis({
          storeClient: client,
          points: this.policy.points,
          duration: this.policy.durationSeconds,
          keyPrefix: this.policy.keyPrefix,
        }),
      };
    }
    // Without an offline queue a command sent while the first connection is still being made fails at
    // once; wait for it, briefly and only once, so a cold instance does not start in fallback mode.
    if (this.#firstCall) {
      this.#firstCall = false;
      if (['wait', 'connecting', 'connect'].includes(client.status)) {
        await whenReady(client, FIRST_CONNECT_WAIT_MS);
      }
    }
    // Stored as `<REDIS_KEY_PREFIX><policy.keyPrefix>:<key>`: ioredis adds its prefix, the limiter its own.
    return this.#shared.limiter.consume(key);
  }

  #decide(outcome: Outcome, source: RateLimitSource): RateLimitVerdict {
    if (!outcome.allowed) {
      // Names kept from when only logins were limited (dashboards query them); `limit` tells them apart.
      trackMetric('auth.login.rateLimited', 1, { limit: this.policy.name, source });
      throw new RateLimitedException(outcome.res.msBeforeNext / 1000, this.policy.message);
    }
    return { remaining: outcome.res.remainingPoints, source };
  }

  #reportFallback(error: unknown, log: Logger): void {
    trackEvent('auth.rateLimit.storeUnavailable', { limit: this.policy.name, error: errorName(error) });
    trackMetric('auth.rateLimit.fallback', 1, { limit: this.policy.name });
    const now = Date.now();
    if (now - this.#lastWarning >= WARN_EVERY_MS) {
      this.#lastWarning = now;
      log.warn(
        `${this.policy.name} rate limit: Redis unavailable (${errorName(error)}); counting per instance until it recovers`,
      );
    }
  }
}

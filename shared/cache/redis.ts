import { Redis, type RedisOptions } from 'ioredis';
import { getSettings } from '../config/index.js';

let client: Redis | undefined;

function failFast(keyPrefix: string): RedisOptions {
  return {
    keyPrefix,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 1_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  };
}
let rateLimitClient: Redis | undefined;

/**
 * The process-wide Redis client. Commands fail fast while disconnected (no offline queue) so a Redis
 * outage degrades callers to the database instead of stalling requests.
 * `memory://` selects ioredis-mock: the local host's single-process stand-in, never used in Azure.
 */
export function getRedis(): Redis {
  if (client) return client;
  const { REDIS_URL, REDIS_KEY_PREFIX } = getSettings();
  if (REDIS_URL.startsWith('memory://')) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const RedisMock = require('ioredis-mock') as new (opts: { keyPrefix: string }) => Redis;
    client = new RedisMock({ keyPrefix: REDIS_KEY_PREFIX });
    return client;
  }
  client = new Redis(REDIS_URL, failFast(REDIS_KEY_PREFIX));
  // Connection errors are reported through health checks and command failures, not as crashes.
  client.on('error', () => undefined);
  return client;
}

/**
 * Where rate-limit counters live: RATE_LIMIT_REDIS_URL when set — in Azure a Redis of their own with
 * `noeviction`, so filling the cache can never evict a counter and hand an attacker a fresh budget
 * (ADR 0021) — else the app's client. Same fail-fast options and key prefix as the app's client.
 */
export function getRateLimitRedis(): Redis {
  const { RATE_LIMIT_REDIS_URL, REDIS_KEY_PREFIX } = getSettings();
  if (RATE_LIMIT_REDIS_URL === undefined) return getRedis();
  if (rateLimitClient) return rateLimitClient;
  rateLimitClient = new Redis(RATE_LIMIT_REDIS_URL, failFast(REDIS_KEY_PREFIX));
  rateLimitClient.on('error', () => undefined);
  return rateLimitClient;
}

export async function closeRedis(): Promise<void> {
  const current = [client, rateLimitClient];
  client = undefined;
  rateLimitClient = undefined;
  for (const redis of current) redis?.disconnect();
}

/**
 * Waits (bounded) for a connection that is still being established: without an offline queue, a
 * command sent in the first milliseconds after start-up would otherwise fail.
 */
export async function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready' || !['connecting', 'connect', 'reconnecting', 'wait'].includes(redis.status))
    return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done(): void {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    }
    redis.once('ready', done);
  });
}

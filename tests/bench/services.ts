import { loadavg } from 'node:os';
import { Redis } from 'ioredis';

/**
 * The services a benchmark measures against, and one line saying which they were: a figure measured on
 * the in-memory Redis stand-in is not a figure about Redis, and must say so beside the number.
 */

/** Real Redis by default (REDIS_URL, else the machine's on loopback); `memory://` only when asked. */
export function benchRedisUrl(): string {
  return process.env.REDIS_URL || 'redis://127.0.0.1:6379';
}

function redisKind(url: string): string {
  if (url.startsWith('memory://')) return 'in-memory stand-in (memory://), not Redis';
  const parsed = new URL(url);
  const loopback = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(parsed.hostname);
  return `real Redis at ${parsed.protocol}//${parsed.hostname}:${parsed.port || 6379}${loopback ? ' (loopback)' : ''}`;
}

function postgresKind(url: string): string {
  const parsed = new URL(url);
  return `PostgreSQL ${parsed.hostname}:${parsed.port || 5432}/${decodeURIComponent(parsed.pathname.slice(1))}`;
}

/** e.g. `services: real Redis at redis://127.0.0.1:6379 (loopback) · PostgreSQL … · Stripe: the project's fake`. */
export function describeServices(parts: {
  redisUrl?: string;
  databaseUrl?: string;
  stripe?: string;
}): string {
  const out: string[] = [];
  if (parts.redisUrl !== undefined) out.push(`Redis: ${redisKind(parts.redisUrl)}`);
  if (parts.databaseUrl !== undefined) out.push(postgresKind(parts.databaseUrl));
  if (parts.stripe !== undefined) out.push(`Stripe: ${parts.stripe}`);
  return `services: ${out.join(' · ')}`;
}

/** The 1/5/15-minute load averages, to print beside figures measured on a shared machine. */
export function loadLine(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

/** Deletes a run's keys (SCAN of the prefix, never KEYS); a no-op for the in-memory stand-in. */
export async function removeRedisKeys(url: string, prefix: string): Promise<void> {
  if (url.startsWith('memory://') || prefix === '') return;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) await redis.del(...found);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Runs the pair of measurements in alternating order (sample i even: a first; odd: b first). */
export async function alternating(i: number, a: () => Promise<void>, b: () => Promise<void>): Promise<void> {
  for (const run of i % 2 === 0 ? [a, b] : [b, a]) await run();
}

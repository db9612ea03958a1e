import pg from 'pg';
import { getSettings } from '../config/index.js';
import { pgPasswordOption } from './database-auth.js';
import { guardPool } from './pool-guard.js';

let pool: pg.Pool | undefined;

/** Connections of the stream pool per instance (counted in docs/adr/0091 and tests/infra/capacity). */
export const STREAM_POOL_MAX = 4;

/**
 * A small pool for long streaming reads (exports) and their progress updates. They run for minutes
 * and must not hold one of the request pool's connections, nor sit inside a request's transaction.
 */
export function getStreamPool(): pg.Pool {
  if (!pool) {
    const settings = getSettings();
    pool = guardPool(
      new pg.Pool({
        connectionString: settings.DATABASE_URL,
        ...pgPasswordOption(),
        // Longer than the request pools' (statement-timeout.ts): an export's read is one long statement.
        statement_timeout: settings.EXPORT_STATEMENT_TIMEOUT_MS,
        max: STREAM_POOL_MAX,
        idleTimeoutMillis: 10_000,
        connectionTimeoutMillis: 10_000,
      }),
    );
  }
  return pool;
}

export async function closeStreamPool(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.end();
}

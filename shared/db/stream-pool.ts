import pg from 'pg';
import { getSettings } from '../config/index.js';

let pool: pg.Pool | undefined;

/**
 * A small pool for long streaming reads (exports) and their progress updates. They run for minutes
 * and must not hold one of the request pool's connections, nor sit inside a request's transaction.
 */
export function getStreamPool(): pg.Pool {
  if (!pool) {
    pool = new pg.Pool({
      connectionString: getSettings().DATABASE_URL,
      max: 4,
      idleTimeoutMillis: 10_000,
      connectionTimeoutMillis: 10_000,
    });
    // An idle client dropped by the server (failover, maintenance) emits 'error' on the pool; unhandled,
    // it would take the whole worker down. The next checkout simply opens a new connection.
    pool.on('error', () => undefined);
  }
  return pool;
}

export async function closeStreamPool(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.end();
}

import type pg from 'pg';

/**
 * Keeps a lost connection from taking the worker down. pg-pool listens for a client's 'error' only
 * while the client is idle in the pool; a connection the server terminates at any other moment — right
 * after connecting, or while checked out between statements — emits 'error' with no listener, which
 * Node turns into an uncaught exception. Every client therefore gets a permanent listener when it is
 * created; the failed statement (if any) rejects on its own, and the pool replaces the client.
 */
export function guardPool(pool: pg.Pool): pg.Pool {
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

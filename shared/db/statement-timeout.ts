import type { Options } from '@mikro-orm/postgresql';

/**
 * `statement_timeout` for a pool (issue 19): no statement a request starts may run for longer than
 * the client would wait for it. Without it one expensive statement (a search forged to scan, a
 * pathological filter) holds its connection and its CPU for as long as it likes, and a handful of them
 * starve the pool. PostgreSQL cancels a statement past the limit with SQLSTATE 57014
 * (query_canceled), which functions/lib/problem.ts answers with 503 + Retry-After.
 *
 * node-postgres sends `statement_timeout` in the startup packet (a session default, so it costs no
 * statement and also covers statements inside transactions). Migrations do not go through here:
 * building an index on a large table may legitimately take minutes.
 */
export function withStatementTimeout(options: Options, timeoutMs: number): Options {
  const driverOptions = (options.driverOptions ?? {}) as Record<string, unknown>;
  const connection = (driverOptions.connection ?? {}) as Record<string, unknown>;
  return {
    ...options,
    driverOptions: { ...driverOptions, connection: { ...connection, statement_timeout: timeoutMs } },
  };
}

/** SQLSTATE of a statement cancelled by statement_timeout (or by a cancel request). */
export const QUERY_CANCELED = '57014';

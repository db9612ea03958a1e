import pg from 'pg';

/**
 * Fault helpers that act on ONE application's resources only. Never stop the machine's shared
 * PostgreSQL or Redis: outages are simulated with a TCP proxy (tests/support/tcp-proxy.ts) and killed
 * connections are the app's own backends, chosen by database name (a database of the test's own) and
 * optionally by application_name.
 */

/** The name our own checker/fixture connections carry, so a kill never takes them down. */
export const OBSERVER_APPLICATION_NAME = 'reliability-observer';

/** A connection string with `application_name` set (pg honours it as a URL parameter). */
export function withApplicationName(url: string, name = OBSERVER_APPLICATION_NAME): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', name);
  return parsed.toString();
}

export interface BackendFilter {
  /** The database whose backends are candidates (required: never all databases). */
  database: string;
  /** Only backends whose application_name is this (when set). */
  applicationName?: string;
  /** Never backends whose application_name is one of these (default: our observer name). */
  exceptApplicationNames?: string[];
  /** Only backends in one of these states (e.g. 'active', 'idle in transaction'). */
  states?: string[];
  /** Spare backends whose current/last statement matches this (PostgreSQL, case-insensitive) regex. */
  exceptQueryMatching?: string;
  /** Like exceptQueryMatching, but only for backends that are not idle (active or in a transaction). */
  exceptBusyQueryMatching?: string;
  /** Never these backends. */
  exceptPids?: number[];
}

export interface Backend {
  pid: number;
  state: string | null;
  applicationName: string;
  /** The current statement, or the last one of an idle backend. */
  query: string;
}

/** Connected backends matching the filter (never the caller's own). */
export async function listBackends(admin: pg.Pool | pg.Client, filter: BackendFilter): Promise<Backend[]> {
  if (!filter.database) throw new Error('listBackends: a database name is required');
  const except = filter.exceptApplicationNames ?? [OBSERVER_APPLICATION_NAME];
  const { rows } = await admin.query<{
    pid: number;
    state: string | null;
    application_name: string;
    query: string | null;
  }>(
    `select pid, state, application_name, query from pg_stat_activity
      where datname = $1 and pid <> pg_backend_pid() and backend_type = 'client backend'
        and ($2::text is null or application_name = $2)
        and not (application_name = any($3::text[]))
        and ($4::text[] is null or state = any($4::text[]))
        and ($5::text is null or coalesce(query, '') !~* $5)
        and ($6::text is null or state = 'idle' or coalesce(query, '') !~* $6)
        and not (pid = any($7::int[]))`,
    [
      filter.database,
      filter.applicationName ?? null,
      except,
      filter.states ?? null,
      filter.exceptQueryMatching ?? null,
      filter.exceptBusyQueryMatching ?? null,
      filter.exceptPids ?? [],
    ],
  );
  return rows.map((r) => ({
    pid: r.pid,
    state: r.state,
    applicationName: r.application_name,
    query: r.query ?? '',
  }));
}

/**
 * `pg_terminate_backend` on the matching backends: their clients see the connection drop mid-query or
 * while idle. Returns how many were terminated.
 */
export async function terminateBackends(admin: pg.Pool | pg.Client, filter: BackendFilter): Promise<number> {
  const victims = await listBackends(admin, filter);
  if (victims.length === 0) return 0;
  const { rows } = await admin.query<{ n: number }>(
    `select count(*) filter (where pg_terminate_backend(pid))::int as n from unnest($1::int[]) as pid`,
    [victims.map((v) => v.pid)],
  );
  return rows[0]?.n ?? 0;
}

/** The database name of a postgres:// URL. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/** Resolves after `ms` (timers are how fault schedules are expressed). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns something other than undefined/false, or throws after the timeout. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
    }
    await sleep(intervalMs);
  }
}

import { hash } from 'node:crypto';
import pg from 'pg';
import { getSettings } from '../config/index.js';
import { pgPasswordOption } from './database-auth.js';
import { guardPool } from './pool-guard.js';
import { countQuery } from './query-counter.js';

/**
 * A plain node-postgres pool for hot, read-only, single-statement reads that need no unit of work
 * (today: product search). Why beside the ORM's pool: such a read uses nothing of MikroORM (no
 * entities, no identity map, no transaction), yet `em.execute` cost 0.35–0.65 ms of client CPU per
 * search (EntityManager fork, value inlining, query logging, knex runner, tarn timers) — about as much
 * as node-postgres spends sending the statement and parsing its rows, and 20–60 % on top of a fast
 * search's own latency; through this pool the service adds ~0.1 ms (tests/bench/catalog.ts). What this
 * pool must never carry: writes, or anything that has to see an invocation's uncommitted changes —
 * those go through `em.execute`.
 *
 * Rules kept here rather than by convention:
 * - tenant scoping: every statement names the tenant as `$1` (`tenant_id = $1`) and is refused
 *   otherwise (`readTenantRows`);
 * - values are always bound, never inlined, and each statement text is prepared once per connection
 *   (named after its hash: parse and analysis are skipped from the second run on, ~0.15 ms of a 2 ms
 *   search). Every connection runs with `plan_cache_mode = force_custom_plan`, so PostgreSQL still
 *   plans every execution for its own values, as for the ORM's inlined statements: a prepared
 *   statement would otherwise switch to a generic plan after five runs, and one plan cannot serve both
 *   a rare term (GIN bitmap) and a common one (walk the created_at index): at 1M products the generic
 *   plan took 7.9 s for a common term that a custom plan answers in 1.2 ms (see search-statement.ts).
 *   The setting travels in the startup packet: a server or pooler that refuses it fails the connection
 *   loudly instead of silently planning generically. (Named statements also rule out a
 *   transaction-mode PgBouncer in front of this pool.)
 * - same server and TLS settings as the ORM (`DATABASE_URL`, `PGSSLMODE`), same idle timeout; its size
 *   is a quarter of DATABASE_POOL_MAX (at least one), taken out of the ORM's share (shared/db/capacity.ts
 *   ormPoolMax), so the connection budget checked per environment (tests/infra/capacity.test.ts) counts
 *   DATABASE_POOL_MAX once for both. One search holds a
 *   connection for its few milliseconds in PostgreSQL only; beyond that, searches queue here.
 * - `closeReadPool` ends it, to be called wherever the ORM is closed on shutdown; idle connections
 *   never keep a process alive (`allowExitOnIdle`).
 */
export interface ReadStatement {
  text: string;
  values: unknown[];
}

/** The read pool's share of an instance's DATABASE_POOL_MAX connections. */
export function readPoolMax(poolMax: number): number {
  return Math.max(1, Math.floor(poolMax / 4));
}

const TENANT_FIRST = /\btenant_id = \$1\b/;

/** The pool's settings for `connectionString`; also what a benchmark's baseline client must use. */
export function readPoolConfig(
  connectionString: string,
  poolMax: number,
  statementTimeoutMs?: number,
): pg.PoolConfig {
  return {
    connectionString,
    ...pgPasswordOption(),
    max: readPoolMax(poolMax),
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    allowExitOnIdle: true,
    application_name: 'ecommerce-api read',
    options: '-c plan_cache_mode=force_custom_plan',
    // shared/db/statement-timeout.ts: a search forged to be slow is cancelled, not waited for.
    ...(statementTimeoutMs === undefined ? {} : { statement_timeout: statementTimeoutMs }),
  };
}

let pool: pg.Pool | undefined;
/** Prepared-statement name by text, for texts already checked for tenant scoping. */
const names = new Map<string, string>();

/**
 * What goes to node-postgres for `statement`: its text prepared under a name derived from the text (the
 * same on every connection), its values bound. Also what a benchmark's baseline must send. Refuses a
 * text that does not scope to the tenant as `$1` (checked once per text).
 */
export function readQueryConfig(statement: ReadStatement): pg.QueryConfig {
  let name = names.get(statement.text);
  if (name === undefined) {
    if (!TENANT_FIRST.test(statement.text)) {
      throw new Error('read-pool statements must be scoped to the tenant as $1');
    }
    name = `r_${hash('sha256', statement.text, 'base64url').slice(0, 16)}`;
    // Texts come from a few statement builders with bound values, so this stays small; the cap only
    // guards against a builder that one day inlines values.
    if (names.size < 1000) names.set(statement.text, name);
  }
  return { name, text: statement.text, values: statement.values };
}

export function getReadPool(): pg.Pool {
  if (!pool) {
    const settings = getSettings();
    pool = guardPool(
      new pg.Pool(
        readPoolConfig(
          settings.DATABASE_URL,
          settings.DATABASE_POOL_MAX,
          settings.DATABASE_STATEMENT_TIMEOUT_MS,
        ),
      ),
    );
  }
  return pool;
}

/**
 * Runs one read-only statement scoped to `tenantId` (bound as `$1`) and returns its rows. Errors are
 * node-postgres errors: SQLSTATE in `code`, lost connections recognised by functions/lib/problem.ts.
 */
export async function readTenantRows<Row extends pg.QueryResultRow>(
  tenantId: string,
  statement: ReadStatement,
): Promise<Row[]> {
  const config = readQueryConfig(statement);
  if (statement.values[0] !== tenantId) {
    throw new Error('read-pool statements must be scoped to the tenant as $1');
  }
  // Statement-count proofs (tests/…/search.test.ts) see these beside the ORM's statements.
  countQuery(statement.text);
  const result = await getReadPool().query<Row>(config);
  return result.rows;
}

export async function closeReadPool(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.end();
}

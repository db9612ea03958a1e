import type pg from 'pg';
import { getOrm } from './orm.js';
import { countQuery } from './query-counter.js';

export interface TenantStatement {
  /** Names the tenant as `$1`: `tenant_id = $1`, or a function's `p_tenant_id => $1`. */
  text: string;
  values: unknown[];
}

/** What knex's client offers for borrowing one of the ORM pool's connections (untyped in knex). */
interface ConnectionLender {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

const TENANT_FIRST = /\b(?:tenant_id = |p_tenant_id => )\$1\b/;

/**
 * Runs ONE statement that is atomic by itself, on its own (autocommit), on a connection borrowed from
 * the ORM's pool, and returns its rows. For hot statements that need nothing of a unit of work (no
 * entities, no identity map, no transaction) — today the stock reservation, `reserve_stock`, and the
 * checkout activities' first read of their committed order. Why not
 * `em.execute`: its EntityManager fork, value inlining and knex query runner cost about as much client
 * CPU again as node-postgres spends on the statement itself, and under load that halved reservation
 * throughput (tests/bench/checkout.ts). Why the ORM's pool and not the read pool: the reservation
 * rides on the checkout's concurrency, and a quarter of the connections queued it (`npm run bench
 * checkout`, 10k products: 0.41× the bare statement through the read pool on a loaded machine; 0.62×
 * and 0.98× through this on a quiet one).
 *
 * Never for a statement that belongs to a caller's transaction (check `isInTransaction` from
 * unit-of-work.ts first and use `em.execute` then), and never for a write that is atomic only
 * together with other statements. Values are bound, never inlined; the statement is not prepared by
 * name (the ORM's connections plan generically after five runs of a prepared statement; see
 * read-pool.ts). Every statement is scoped to the tenant as `$1`, and refused otherwise.
 */
export async function runAutocommitStatement<Row extends pg.QueryResultRow>(
  tenantId: string,
  statement: TenantStatement,
): Promise<Row[]> {
  if (statement.values[0] !== tenantId || !TENANT_FIRST.test(statement.text)) {
    throw new Error('autocommit statements must be scoped to the tenant as $1');
  }
  const orm = await getOrm();
  // The one sanctioned use of the raw connection: this statement must not join any transaction.
  // eslint-disable-next-line no-restricted-syntax
  const lender = orm.em.getConnection().getKnex().client as ConnectionLender;
  const connection = (await lender.acquireConnection()) as pg.ClientBase;
  try {
    // Statement-count proofs see these beside the ORM's own statements.
    countQuery(statement.text);
    const result = await connection.query<Row>({ text: statement.text, values: statement.values });
    return result.rows;
  } finally {
    // A connection lost mid-statement is marked by knex's own error listener and never lent again.
    await lender.releaseConnection(connection);
  }
}

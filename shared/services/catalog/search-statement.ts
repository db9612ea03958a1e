import { PRODUCT_COLUMNS, type ProductRow } from '../../repositories/product-repository.js';
import type { TsQueryExpression } from './search-query.js';

/**
 * The search statement. Ranking every match is what makes common terms slow (ts_rank reads each
 * matching row's vector: ~300 ms for 480k matches at 1M rows), so results are ranked in *windows*:
 *
 * - a window is the next SEARCH_WINDOW matches in a cheap, indexed order — newest first, the
 *   (tenant_id, created_at desc, id desc) partial index of active products;
 * - inside a window, hits are ordered by relevance (ts_rank desc, id);
 * - when a window is used up, the next one starts strictly below its oldest candidate.
 *
 * The planner picks per query (each statement is planned for its own values): for a common term it
 * walks the created_at index and stops after SEARCH_WINDOW matches; for a rare one it takes the GIN
 * bitmap and sorts the few matches. A query with at most SEARCH_WINDOW matches is ranked exactly.
 *
 * Keyset pagination stays stable: the cursor pins the window by both ends (its newest and oldest
 * candidate, inclusive) plus the last hit's (rank, id), so products created later never shift pages,
 * and the rows of a window can only change by being edited or archived themselves.
 */
export const SEARCH_WINDOW = 200;

/** (created_at key, id): a row's position in the window order. */
export type SearchKey = [createdKey: string, id: string];

export type SearchWindowSpec =
  /** A new window: the first SEARCH_WINDOW matches (strictly below `below` when given). */
  | { kind: 'open'; below?: SearchKey | undefined }
  /** A window already seen: everything between its bounds (`bottom` null: it was the last window). */
  | { kind: 'known'; top: SearchKey; bottom: SearchKey | null };

export interface SearchStatementInput {
  tenantId: string;
  query: TsQueryExpression;
  window: SearchWindowSpec;
  /** Resume after this hit (rank, id) inside the window. */
  after?: { rank: number; id: string } | undefined;
  limit: number;
}

export interface SearchRow extends ProductRow {
  rank: number;
  window_size: number;
  top_key: string | null;
  top_id: string | null;
  bottom_key: string | null;
  bottom_id: string | null;
}

export interface SqlStatement {
  sql: string;
  params: unknown[];
}

/**
 * One statement per window: the window's candidates (ranked), its size and bounds, and the requested
 * slice of hits. It always returns at least one row (the bounds); product columns are null when the
 * slice is empty. `numnode(q) > 0` is folded at plan time, so an empty query (stop words only, garbage)
 * becomes a one-time `false` filter instead of a scan.
 */
export function searchWindowStatement(input: SearchStatementInput): SqlStatement {
  const q = input.query;
  const params: unknown[] = [...q.params, input.tenantId, ...q.params, ...q.params];
  const bounds: string[] = [];
  const window = input.window;
  if (window.kind === 'open' && window.below) {
    bounds.push('and (p.created_at, p.id) < (?::timestamptz, ?::uuid)');
    params.push(...window.below);
  } else if (window.kind === 'known') {
    bounds.push('and (p.created_at, p.id) <= (?::timestamptz, ?::uuid)');
    params.push(...window.top);
    if (window.bottom) {
      bounds.push('and (p.created_at, p.id) >= (?::timestamptz, ?::uuid)');
      params.push(...window.bottom);
    }
  }
  const limitWindow =
    window.kind === 'open' ? `order by p.created_at desc, p.id desc limit ${SEARCH_WINDOW}` : '';
  let resume = '';
  if (input.after) {
    resume = 'where w.rank < ?::real or (w.rank = ?::real and w.id > ?::uuid)';
    params.push(input.after.rank, input.after.rank, input.after.id);
  }
  params.push(input.limit);
  const sql = `with w as materialized (
  select ${PRODUCT_COLUMNS}, p.created_at, ts_rank(p.search, ${q.sql}) as rank
    from products p
   where p.tenant_id = ? and p.status = 'active' and numnode(${q.sql}) > 0 and p.search @@ ${q.sql}
     ${bounds.join(' ')}
   ${limitWindow}
), b as (
  select (select count(*)::int from w) as window_size,
         n.created_key as top_key, n.id as top_id, o.created_key as bottom_key, o.id as bottom_id
    from (select 1) one
    left join (select created_key, id from w order by created_at desc, id desc limit 1) n on true
    left join (select created_key, id from w order by created_at, id limit 1) o on true
), hits as (
  select * from w ${resume} order by w.rank desc, w.id limit ?
)
select b.window_size, b.top_key, b.top_id, b.bottom_key, b.bottom_id,
       h.id, h.sku, h.name, h.description, h.price_cents, h.currency, h.rating_count, h.rating_sum,
       h.created_key, h.rank
  from b left join hits h on true
 order by h.rank desc, h.id`;
  return { sql, params };
}

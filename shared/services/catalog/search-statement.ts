import { PRODUCT_COLUMNS, type ProductRow } from '../../repositories/product-repository.js';
import type { ReadStatement } from '../../db/read-pool.js';
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

/**
 * One statement per window: the window's candidates (ranked), its size and bounds, and the requested
 * slice of hits. It always returns at least one row (the bounds); product columns are null when the
 * slice is empty. `numnode(q) > 0` is folded at plan time, so an empty query (stop words only, garbage)
 * becomes a one-time `false` filter instead of a scan.
 *
 * Values are bound (`$n`, the tenant always `$1`), never inlined, so the text depends only on the
 * statement's shape and is prepared once per connection. The read pool (shared/db/read-pool.ts) forces
 * custom plans: PostgreSQL still plans every execution for its own values (bound values are constants
 * to a custom plan, so the `numnode` test still folds), and the planner's choice between the GIN index
 * and the created_at walk stays per query.
 */
export function searchWindowStatement(input: SearchStatementInput): ReadStatement {
  const values: unknown[] = [input.tenantId];
  const bind = (value: unknown, cast: string): string => `$${values.push(value)}::${cast}`;
  // The tsquery expression appears three times (rank, emptiness test, match) but binds its values once.
  let n = 0;
  const qParams = input.query.params.map((value) => bind(value, 'text'));
  const q = input.query.sql.replace(/\?/g, () => qParams[n++]!);
  const bounds: string[] = [];
  const window = input.window;
  if (window.kind === 'open' && window.below) {
    bounds.push(
      `and (p.created_at, p.id) < (${bind(window.below[0], 'timestamptz')}, ${bind(window.below[1], 'uuid')})`,
    );
  } else if (window.kind === 'known') {
    bounds.push(
      `and (p.created_at, p.id) <= (${bind(window.top[0], 'timestamptz')}, ${bind(window.top[1], 'uuid')})`,
    );
    if (window.bottom) {
      bounds.push(
        `and (p.created_at, p.id) >= (${bind(window.bottom[0], 'timestamptz')}, ${bind(window.bottom[1], 'uuid')})`,
      );
    }
  }
  const limitWindow =
    window.kind === 'open' ? `order by p.created_at desc, p.id desc limit ${SEARCH_WINDOW}` : '';
  let resume = '';
  if (input.after) {
    const rank = bind(input.after.rank, 'real');
    resume = `where w.rank < ${rank} or (w.rank = ${rank} and w.id > ${bind(input.after.id, 'uuid')})`;
  }
  const limit = bind(input.limit, 'int');
  // The pieces above fully determine the text; there are a few dozen shapes at most (3 tsquery forms ×
  // 4 window forms × resume or not), so each text is built once and the same string is reused: the read
  // pool then finds its prepared statement without hashing 1.7 kB per search.
  const shape = `${q}|${bounds.join(' ')}|${limitWindow}|${resume}|${limit}`;
  let text = TEXTS.get(shape);
  if (text === undefined) {
    text = statementText(q, bounds.join(' '), limitWindow, resume, limit);
    TEXTS.set(shape, text);
  }
  return { text, values };
}

const TEXTS = new Map<string, string>();

function statementText(
  q: string,
  bounds: string,
  limitWindow: string,
  resume: string,
  limit: string,
): string {
  return `with w as materialized (
  select ${PRODUCT_COLUMNS}, p.created_at, ts_rank(p.search, ${q}) as rank
    from products p
   where p.tenant_id = $1 and p.status = 'active' and numnode(${q}) > 0 and p.search @@ ${q}
     ${bounds}
   ${limitWindow}
), b as (
  select (select count(*)::int from w) as window_size,
         n.created_key as top_key, n.id as top_id, o.created_key as bottom_key, o.id as bottom_id
    from (select 1) one
    left join (select created_key, id from w order by created_at desc, id desc limit 1) n on true
    left join (select created_key, id from w order by created_at, id limit 1) o on true
), hits as (
  select * from w ${resume} order by w.rank desc, w.id limit ${limit}
)
select b.window_size, b.top_key, b.top_id, b.bottom_key, b.bottom_id,
       h.id, h.sku, h.name, h.description, h.price_cents, h.currency, h.rating_count, h.rating_sum,
       h.created_key, h.rank
  from b left join hits h on true
 order by h.rank desc, h.id`;
}

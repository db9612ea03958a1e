import { hash } from 'node:crypto';
import { readTenantRows } from '../../db/read-pool.js';
import { ValidationException } from '../../errors/index.js';
import type { PageBody, ProductSearchInput, SearchHitBody } from '../../schemas/catalog.js';
import { z } from '../../schemas/zod.js';
import { cursorCodec } from '../../utils/cursor.js';
import type { DomainContext } from '../context.js';
import { toSearchHit } from './product-mapper.js';
import { CreatedKey } from './product-service.js';
import { tsQueryExpression } from './search-query.js';
import {
  SEARCH_WINDOW,
  searchWindowStatement,
  type SearchKey,
  type SearchRow,
  type SearchWindowSpec,
} from './search-statement.js';

const Key = z.tuple([CreatedKey, z.uuid()]);

/** Pins the window (both ends) and the last hit, and which query it belongs to. */
const SearchCursor = z
  .object({
    h: z.string().regex(/^[A-Za-z0-9_-]{8}$/),
    t: Key,
    b: Key.nullable(),
    r: z.number().min(0).max(1e6),
    i: z.uuid(),
  })
  .strict();

/** A page never needs more than the rest of one window and the next (SEARCH_WINDOW > max pageSize). */
const MAX_STATEMENTS_PER_PAGE = 4;

interface Hit {
  row: SearchRow;
  top: SearchKey;
  bottom: SearchKey | null;
}

// One-shot `hash` (Node ≥ 20.12): same digest as createHash, a fifth of its cost per search.
function queryHash(q: string, prefix: boolean): string {
  return hash('sha256', `${prefix ? 1 : 0}\u0000${q.trim()}`, 'base64url').slice(0, 8);
}

/**
 * Full-text search over the tenant's active products: `websearch_to_tsquery` on the stored, weighted
 * tsvector (name A, description B) with its GIN index, ranked by ts_rank inside windows of the newest
 * SEARCH_WINDOW matches (see search-statement.ts for why and how that stays fast and stable). Reads
 * PostgreSQL directly, so a product is findable the moment its write commits — through the read pool
 * (shared/db/read-pool.ts), not the invocation's EntityManager: a search is one read-only statement that
 * needs no unit of work, and em.execute's own cost was 20–60 % of a fast search. It therefore never sees
 * uncommitted writes of the calling invocation (no search runs inside a write).
 */
export class SearchService {
  constructor(private readonly ctx: DomainContext) {}

  async search(input: ProductSearchInput): Promise<PageBody<SearchHitBody>> {
    const query = tsQueryExpression(input.q, input.prefix);
    const fingerprint = queryHash(input.q, input.prefix);
    // Signed for this tenant and this query (the fingerprint is in the scope): a forged window, or a
    // cursor of another query, is refused before any statement runs.
    const codec = await cursorCodec({ tenantId: this.ctx.tenantId, list: `search:${fingerprint}` });
    const cursor = codec.decode(input.cursor, SearchCursor);
    if (cursor && cursor.h !== fingerprint) {
      throw new ValidationException([{ field: 'query.cursor', message: 'cursor belongs to another query' }]);
    }
    const want = input.pageSize + 1;
    const hits: Hit[] = [];
    let spec: SearchWindowSpec = cursor
      ? { kind: 'known', top: cursor.t, bottom: cursor.b }
      : { kind: 'open' };
    let after = cursor ? { rank: cursor.r, id: cursor.i } : undefined;
    let exhausted = false;
    for (let n = 0; n < MAX_STATEMENTS_PER_PAGE && hits.length < want; n++) {
      const rows = await readTenantRows<SearchRow>(
        this.ctx.tenantId,
        searchWindowStatement({
          tenantId: this.ctx.tenantId,
          query,
          window: spec,
          after,
          limit: want - hits.length,
        }),
      );
      const head = rows[0];
      let top: SearchKey;
      let bottom: SearchKey | null;
      if (spec.kind === 'known') {
        top = spec.top;
        bottom = spec.bottom;
      } else {
        if (!head || head.window_size === 0 || !head.top_key || !head.top_id) {
          exhausted = true;
          break;
        }
        top = [head.top_key, head.top_id];
        bottom =
          head.window_size >= SEARCH_WINDOW && head.bottom_key && head.bottom_id
            ? [head.bottom_key, head.bottom_id]
            : null;
      }
      for (const row of rows) if (row.id !== null) hits.push({ row, top, bottom });
      if (bottom === null) {
        exhausted = true;
        break;
      }
      spec = { kind: 'open', below: bottom };
      after = undefined;
    }
    const page = hits.slice(0, input.pageSize);
    const last = page[page.length - 1];
    const more = hits.length > input.pageSize || !exhausted;
    return {
      items: page.map(({ row }) => toSearchHit(row)),
      nextCursor:
        more && last
          ? codec.encode({
              h: fingerprint,
              t: last.top,
              b: last.bottom,
              r: Number(last.row.rank),
              i: last.row.id,
            })
          : null,
    };
  }
}

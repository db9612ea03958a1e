/**
 * Turns the user's search text into a tsquery SQL expression. The text always travels as a bound
 * value, never as SQL; `websearch_to_tsquery` accepts any input (garbage becomes an empty query, never
 * an error), so a bad query cannot cause a 500.
 *
 * Type-ahead (`prefix`): the last word also matches as a prefix (`kett` → `kettle`). It is split off
 * and turned into `'word':*` with `quote_literal`, so nothing the user types can change the tsquery's
 * syntax; the rest of the text keeps web-search semantics. The prefix is skipped when the last word is
 * inside an open quote, is the operator `or`, or is shorter than two characters (a one-letter prefix
 * matches a large part of the vocabulary and makes the index scan expensive).
 */
export interface TsQueryExpression {
  /** SQL with `?` placeholders, an expression of type tsquery. */
  sql: string;
  params: string[];
}

const LAST_WORD = /(^|\s)([\p{L}\p{N}]{2,})$/u;
const TRAILING_OR = /(^|\s)or\s*$/i;
export const SEARCH_CONFIG = 'english';

export function tsQueryExpression(text: string, prefix: boolean): TsQueryExpression {
  const q = text.trim();
  const plain: TsQueryExpression = { sql: `websearch_to_tsquery('${SEARCH_CONFIG}', ?)`, params: [q] };
  if (!prefix) return plain;
  const match = LAST_WORD.exec(q);
  if (!match) return plain;
  const word = match[2]!;
  const head = q.slice(0, q.length - word.length).trimEnd();
  if (word.toLowerCase() === 'or') return plain;
  if ((head.match(/"/g)?.length ?? 0) % 2 === 1) return plain;
  const prefixSql = `to_tsquery('${SEARCH_CONFIG}', quote_literal(?) || ':*')`;
  if (TRAILING_OR.test(head)) {
    const rest = head.replace(TRAILING_OR, '').trimEnd();
    return {
      sql: `(websearch_to_tsquery('${SEARCH_CONFIG}', ?) || ${prefixSql})`,
      params: [rest, word.toLowerCase()],
    };
  }
  return {
    sql: `(websearch_to_tsquery('${SEARCH_CONFIG}', ?) && ${prefixSql})`,
    params: [head, word.toLowerCase()],
  };
}

import { ValidationException } from '../errors/index.js';
import type { z } from 'zod';

/**
 * Keyset cursors: the last row's sort key, base64url-encoded JSON. Opaque to clients; validated on the
 * way in against the schema of the list that issued it, so a forged or foreign cursor is a 400, never
 * a 500 or a query on attacker-chosen columns.
 */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, schema: z.ZodType<T>): T | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationException([{ field: 'query.cursor', message: 'cursor is malformed' }]);
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    throw new ValidationException([{ field: 'query.cursor', message: 'cursor is not valid for this list' }]);
  }
  return result.data;
}

/** Builds `{ items, nextCursor }` from a page fetched with one extra row (`limit + 1`). */
export function toPage<Row, Item>(
  rows: Row[],
  pageSize: number,
  toItem: (row: Row) => Item,
  cursorOf: (row: Row) => unknown,
): { items: Item[]; nextCursor: string | null } {
  const hasMore = rows.length > pageSize;
  const pageRows = hasMore ? rows.slice(0, pageSize) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    items: pageRows.map(toItem),
    nextCursor: hasMore && last !== undefined ? encodeCursor(cursorOf(last)) : null,
  };
}

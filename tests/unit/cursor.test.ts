import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeCursor, encodeCursor, toPage } from '../../shared/utils/cursor.js';
import { ValidationException } from '../../shared/errors/index.js';
import { PageQuery } from '../../shared/schemas/common.js';

const KeySchema = z.tuple([z.iso.datetime(), z.uuid()]);

describe('keyset cursors', () => {
  it('round-trip the last row key', () => {
    const key = ['2026-01-01T00:00:00.000Z', '0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10'];
    expect(decodeCursor(encodeCursor(key), KeySchema)).toEqual(key);
  });

  it.each(['%%%', 'bm90IGpzb24', encodeCursor({ a: 1 }), encodeCursor(["'; drop table users;--", 'x'])])(
    'reject a forged cursor %s with a 400',
    (cursor) => {
      expect(() => decodeCursor(cursor, KeySchema)).toThrow(ValidationException);
    },
  );

  it('build pages from limit + 1 rows', () => {
    const rows = [1, 2, 3];
    expect(
      toPage(
        rows,
        2,
        (r) => r,
        (r) => [r],
      ),
    ).toEqual({ items: [1, 2], nextCursor: encodeCursor([2]) });
    expect(
      toPage(
        rows,
        3,
        (r) => r,
        (r) => [r],
      ),
    ).toEqual({ items: [1, 2, 3], nextCursor: null });
  });

  it('default pageSize to 20 and refuse 101', () => {
    expect(PageQuery.parse({}).pageSize).toBe(20);
    expect(PageQuery.parse({ pageSize: '100' }).pageSize).toBe(100);
    expect(PageQuery.safeParse({ pageSize: '101' }).success).toBe(false);
    expect(PageQuery.safeParse({ pageSize: '0' }).success).toBe(false);
    expect(PageQuery.safeParse({ pageSize: '1.5' }).success).toBe(false);
  });
});

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigurationError } from '../../shared/config/index.js';
import { ValidationException } from '../../shared/errors/index.js';
import { PageQuery } from '../../shared/schemas/common.js';
import { cursorCodecWith, parseCursorKeys, toPage, type CursorScope } from '../../shared/utils/cursor.js';

const KeySchema = z.tuple([z.iso.datetime(), z.uuid()]);
const key = (kid: string): string => `${kid}:${randomBytes(32).toString('base64url')}`;
const OLD = key('old');
const NEW = key('new');
const SCOPE: CursorScope = { tenantId: '7d0c6a3e-1f2b-4c5d-8e9f-0a1b2c3d4e5f', list: 'products:newest' };
const codec = (secret = OLD, scope = SCOPE) => cursorCodecWith(parseCursorKeys(secret), scope);
const ROW = ['2026-01-01T00:00:00.000Z', '0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10'];

function refused(fn: () => unknown): void {
  expect(fn).toThrow(ValidationException);
}

describe('signed keyset cursors', () => {
  it('round-trip the last row key', () => {
    expect(codec().decode(codec().encode(ROW), KeySchema)).toEqual(ROW);
    expect(codec().decode(undefined, KeySchema)).toBeUndefined();
  });

  it('refuse a tampered payload, a truncated or re-signed MAC, and unsigned JSON', () => {
    const good = codec().encode(ROW);
    const [payload, kid, mac] = good.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify(['2026-01-02T00:00:00.000Z', ROW[1]])).toString('base64url');
    refused(() => codec().decode(`${forged}.${kid}.${mac}`, KeySchema));
    // The last of 43 base64url characters carries the MAC's last 4 bits: one in 16 MACs already ends
    // in 'A', so the tampered character must differ from the real one to change the MAC.
    const otherLast = mac.endsWith('A') ? 'Q' : 'A';
    refused(() => codec().decode(`${payload}.${kid}.${mac.slice(0, 42)}${otherLast}`, KeySchema));
    refused(() => codec().decode(`${payload}.${kid}.${mac.slice(0, 20)}`, KeySchema));
    refused(() => codec().decode(payload, KeySchema)); // the old unsigned format
    refused(() => codec(key('old')).decode(good, KeySchema)); // same kid, another secret
    for (const junk of ['%%%', 'a.b.c', `${payload}..${mac}`, `${payload}.${kid}.${mac}.x`])
      refused(() => codec().decode(junk, KeySchema));
  });

  it('refuse a cursor of another tenant or another list', () => {
    const good = codec().encode(ROW);
    refused(() =>
      codec(OLD, { ...SCOPE, tenantId: '00000000-0000-4000-8000-000000000000' }).decode(good, KeySchema),
    );
    refused(() => codec(OLD, { ...SCOPE, list: 'products:price_asc' }).decode(good, KeySchema));
  });

  it('rotate: the first key signs, every listed key verifies, a dropped key no longer does', () => {
    const before = codec(OLD).encode(ROW);
    const rotated = codec(`${NEW},${OLD}`);
    expect(rotated.decode(before, KeySchema)).toEqual(ROW);
    const after = rotated.encode(ROW);
    expect(after.split('.')[1]).toBe('new');
    expect(codec(NEW).decode(after, KeySchema)).toEqual(ROW);
    refused(() => codec(NEW).decode(before, KeySchema));
  });

  it('refuse weak or malformed keys at parse time', () => {
    expect(() => parseCursorKeys('')).toThrow(ConfigurationError);
    expect(() => parseCursorKeys(`k:${randomBytes(16).toString('base64url')}`)).toThrow(ConfigurationError);
    expect(() => parseCursorKeys(randomBytes(32).toString('base64url'))).toThrow(ConfigurationError);
  });

  it('build pages from limit + 1 rows', () => {
    const rows = [1, 2, 3];
    const page = toPage(
      rows,
      2,
      (r) => r,
      (r) => [r],
      codec(),
    );
    expect(page.items).toEqual([1, 2]);
    expect(codec().decode(page.nextCursor!, z.tuple([z.number()]))).toEqual([2]);
    expect(
      toPage(
        rows,
        3,
        (r) => r,
        (r) => [r],
        codec(),
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

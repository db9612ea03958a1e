import { createHmac, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { ConfigurationError } from '../config/index.js';
import { ValidationException } from '../errors/index.js';
import { getSecret } from '../secrets/provider.js';
import { parseSigningKeys, type SigningKey } from '../services/auth/signing-keys.js';

/**
 * Keyset cursors: the last row's sort key as base64url JSON, signed. Opaque to clients.
 *
 * Why signed (issue 19): a cursor pins query parameters the server chose — the search window's ends,
 * a position — and a forged one (`b: null` removed the 200-row ranking window: ≈ 300 ms per query at
 * 1M products) can make each request as expensive as the attacker likes. Schema checks cannot tell a
 * forged value from a genuine one; a MAC can. The MAC covers the tenant and the list the cursor was
 * issued for, so a cursor replayed against another tenant, another user's list, another product's
 * reviews or another sort is refused (400) like a tampered one.
 *
 * Format: `<payload>.<kid>.<mac>`, mac = HMAC-SHA256(key, tenant ␀ list ␀ payload), base64url, full
 * 256 bits. Keys: the CURSOR_SIGNING_KEYS secret, `kid:base64url` pairs of ≥ 256 bits, read through
 * the secret provider like every secret; the first signs, all verify — rotate by prepending a key and
 * dropping the old one once its cursors may be forgotten (a cursor is only a bookmark: an outdated one
 * costs a client a restart from page one, never data).
 */
export interface CursorScope {
  tenantId: string;
  /** Which list: e.g. `products:newest`, `reviews:product:<id>`, `orders:<userId>`, `search:<hash>`. */
  list: string;
}

export interface CursorCodec {
  encode(value: unknown): string;
  decode<T>(cursor: string | undefined, schema: z.ZodType<T>): T | undefined;
}

type CursorKey = SigningKey;

const KID = /^[A-Za-z0-9_-]{1,16}$/;
const CURSOR = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{1,16})\.([A-Za-z0-9_-]{43})$/;

export function parseCursorKeys(secret: string): CursorKey[] {
  const keys = parseSigningKeys(secret, 'CURSOR_SIGNING_KEYS');
  // The kid travels in every cursor: keep it to the characters the cursor format allows.
  if (keys.some((k) => !KID.test(k.kid))) {
    throw new ConfigurationError(['CURSOR_SIGNING_KEYS: key ids must be 1–16 of A-Z a-z 0-9 _ -']);
  }
  return keys;
}

function mac(key: Uint8Array, scope: CursorScope, payload: string): Buffer {
  return createHmac('sha256', key)
    .update(`${scope.tenantId.toLowerCase()}\0${scope.list}\0${payload}`)
    .digest();
}

function invalid(message: string): ValidationException {
  return new ValidationException([{ field: 'query.cursor', message }]);
}

/** A codec for one list of one tenant over the given keys (exported for tests and tools). */
export function cursorCodecWith(keys: readonly CursorKey[], scope: CursorScope): CursorCodec {
  const signer = keys[0]!;
  return {
    encode(value: unknown): string {
      const payload = Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
      return `${payload}.${signer.kid}.${mac(signer.key, scope, payload).toString('base64url')}`;
    },
    decode<T>(cursor: string | undefined, schema: z.ZodType<T>): T | undefined {
      if (cursor === undefined || cursor === '') return undefined;
      const parts = CURSOR.exec(cursor);
      if (!parts) throw invalid('cursor is malformed');
      const [, payload, kid, tag] = parts as unknown as [string, string, string, string];
      const key = keys.find((k) => k.kid === kid);
      const given = Buffer.from(tag, 'base64url');
      // One answer for unknown key, tampered payload and foreign scope: nothing to probe with.
      if (!key || given.length !== 32 || !timingSafeEqual(given, mac(key.key, scope, payload))) {
        throw invalid('cursor is not valid for this list');
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        throw invalid('cursor is malformed');
      }
      // Signed by us, so this only fails for cursors of an older format: still a client's 400.
      const result = schema.safeParse(parsed);
      if (!result.success) throw invalid('cursor is not valid for this list');
      return result.data;
    },
  };
}

let parsed: { secret: string; keys: CursorKey[] } | undefined;

/** The codec for `scope` with the current CURSOR_SIGNING_KEYS (parsed once per secret value). */
export async function cursorCodec(scope: CursorScope): Promise<CursorCodec> {
  const secret = await getSecret('CURSOR_SIGNING_KEYS');
  if (parsed?.secret !== secret) parsed = { secret, keys: parseCursorKeys(secret) };
  return cursorCodecWith(parsed.keys, scope);
}

/** Builds `{ items, nextCursor }` from a page fetched with one extra row (`limit + 1`). */
export function toPage<Row, Item>(
  rows: Row[],
  pageSize: number,
  toItem: (row: Row) => Item,
  cursorOf: (row: Row) => unknown,
  codec: CursorCodec,
): { items: Item[]; nextCursor: string | null } {
  const hasMore = rows.length > pageSize;
  const pageRows = hasMore ? rows.slice(0, pageSize) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    items: pageRows.map(toItem),
    nextCursor: hasMore && last !== undefined ? codec.encode(cursorOf(last)) : null,
  };
}

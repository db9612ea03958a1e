/**
 * Keyed blind index: a deterministic HMAC of a normalised value, stored beside the encrypted value so
 * equality lookups and unique constraints work without plaintext (Fernet tokens are randomised, so the
 * ciphertext itself cannot be indexed).
 *
 * Why keyed: a plain hash of an email can be reversed by hashing a list of known addresses; without the
 * key (a secret separate from the Fernet keys) the index reveals only which rows share a value.
 * Use a distinct key per indexed field, so equal values in different fields do not produce equal indexes.
 * Changing the key means recomputing every index from the decrypted values.
 */
import { createHmac } from 'node:crypto';

/** 256 bits: HMAC-SHA256 gains nothing from more, and anything shorter weakens the index. */
export const MIN_BLIND_INDEX_KEY_BYTES = 32;

/**
 * The canonical form of an email address for uniqueness and lookup:
 * Unicode NFKC (full-width and compatibility characters fold to their plain forms, so
 * `ｕｓｅｒ@ｅｘａｍｐｌｅ.ｃｏｍ` and `user@example.com` are one account), lower-cased, then trimmed
 * (last, so whitespace that only appears after normalisation goes too).
 *
 * Dots and `+tags` are deliberately kept. Ignoring dots and sub-addresses is a Gmail convention, not a
 * rule of email (RFC 5321 leaves the local part to the receiving server): at most providers
 * `j.doe@` and `jdoe@` are different people, and stripping them would merge their accounts — letting
 * one register as, or block, the other. A `+tag` is an address the user chose to give us; mapping it
 * to another mailbox would route resets and receipts somewhere they did not ask for.
 * Lower-casing the local part is technically also a liberty, but every mainstream provider is
 * case-insensitive and users expect `Jane@` and `jane@` to be the same login.
 *
 * NFKC is applied again after lower-casing because case mapping does not promise to preserve NFKC form
 * (Unicode's NFKC_Casefold normalises after folding for the same reason); this keeps the function
 * idempotent, which a property test checks.
 * `toLowerCase` (not the locale variant) so the result never depends on the server's locale.
 */
export function normaliseEmail(email: string): string {
  return email.normalize('NFKC').toLowerCase().normalize('NFKC').trim();
}

/** HMAC-SHA256 of the value's UTF-8 bytes, hex-encoded (64 characters, easy to read in SQL). */
export function blindIndex(key: Buffer, value: string): string {
  if (!Buffer.isBuffer(key) || key.length < MIN_BLIND_INDEX_KEY_BYTES) {
    throw new RangeError(`Blind index key must be at least ${MIN_BLIND_INDEX_KEY_BYTES} bytes`);
  }
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/** The blind index of an email address: `blindIndex(key, normaliseEmail(email))`. */
export function emailBlindIndex(key: Buffer, email: string): string {
  return blindIndex(key, normaliseEmail(email));
}

/**
 * Decodes a blind index key secret (e.g. `BLIND_INDEX_KEY`): base64 or base64url, padding optional,
 * at least 32 bytes. The message never includes the secret.
 */
export function parseBlindIndexKey(secret: string): Buffer {
  const text = typeof secret === 'string' ? secret.trim() : '';
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) || text.replace(/=+$/, '').length % 4 === 1) {
    throw new RangeError('Blind index key must be base64 or base64url');
  }
  // Node's base64 decoder reads both alphabets.
  const key = Buffer.from(text, 'base64');
  if (key.length < MIN_BLIND_INDEX_KEY_BYTES) {
    throw new RangeError(`Blind index key must be at least ${MIN_BLIND_INDEX_KEY_BYTES} bytes`);
  }
  return key;
}

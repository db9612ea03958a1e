/**
 * Encryption of PII columns (email, phone, address) at rest: Fernet tokens under a rotating key list.
 *
 * The key list is the `FERNET_KEYS` secret: comma-separated Fernet keys, newest first. Encrypting uses
 * the first key; decrypting accepts any. To rotate: prepend a new key, deploy, re-encrypt rows whose
 * token `needsRotation` (with `rotate`), then drop the old key once no row needs it.
 *
 * Values are stored verbatim (no trimming or normalisation): what the user typed is what comes back.
 * Null stays null so optional columns need no special casing.
 */
import { InvalidFernetToken, MultiFernet } from './fernet.js';

/** A decrypted field that is not valid UTF-8: the token is authentic, but it was not written as text. */
export class FieldCipherDecodeError extends Error {
  constructor() {
    super('Decrypted field is not valid UTF-8 text');
    this.name = 'FieldCipherDecodeError';
  }
}

/**
 * Splits the `FERNET_KEYS` secret. Whitespace around keys is ignored (secrets pasted with newlines);
 * empty entries are an error rather than skipped, because "a,,b" almost certainly lost a key.
 * Error messages never include key material.
 */
export function parseFernetKeyList(keyList: string): string[] {
  if (typeof keyList !== 'string' || keyList.trim() === '') {
    throw new RangeError('FERNET_KEYS must hold at least one Fernet key');
  }
  const keys = keyList.split(',').map((key) => key.trim());
  keys.forEach((key, index) => {
    if (key === '') throw new RangeError(`FERNET_KEYS entry ${index + 1} is empty`);
  });
  return keys;
}

// fatal: true, so corrupted or binary plaintext fails loudly instead of turning into U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class FieldCipher {
  readonly #fernet: MultiFernet;

  /** @param keyList the `FERNET_KEYS` secret: comma-separated Fernet keys, newest first. */
  constructor(keyList: string) {
    this.#fernet = new MultiFernet(parseFernetKeyList(keyList));
  }

  encrypt(text: string): string;
  encrypt(text: null | undefined): null;
  encrypt(text: string | null | undefined): string | null;
  encrypt(text: string | null | undefined): string | null {
    if (text === null || text === undefined) return null;
    return this.#fernet.encrypt(text);
  }

  /**
   * @throws InvalidFernetToken when no key opens the token (wrong keys, tampering, not a token).
   * @throws FieldCipherDecodeError when the plaintext is not UTF-8.
   */
  decrypt(token: string): string;
  decrypt(token: null | undefined): null;
  decrypt(token: string | null | undefined): string | null;
  decrypt(token: string | null | undefined): string | null {
    if (token === null || token === undefined) return null;
    const bytes = this.#fernet.decrypt(token);
    try {
      return utf8.decode(bytes);
    } catch {
      throw new FieldCipherDecodeError();
    }
  }

  /**
   * True when the token is not signed by the first (newest) key, i.e. a re-encryption job should
   * `rotate` it. Null is never rotated.
   * @throws InvalidFernetToken when no configured key verifies it: such a row cannot be rotated, and
   *   answering "true" would only move the failure to `rotate`.
   */
  needsRotation(token: string | null | undefined): boolean {
    if (token === null || token === undefined) return false;
    const index = this.#fernet.keyIndexOf(token);
    if (index < 0) throw new InvalidFernetToken();
    return index > 0;
  }

  /**
   * Re-encrypts under the first key, keeping the token's original timestamp.
   * @throws InvalidFernetToken when no key opens the token.
   */
  rotate(token: string): string {
    return this.#fernet.rotate(token);
  }
}

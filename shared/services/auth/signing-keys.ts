import { ConfigurationError } from '../../config/index.js';

export interface SigningKey {
  kid: string;
  key: Uint8Array;
}

/**
 * Parses the JWT_SIGNING_KEYS secret (or another keyring of the same format, named by `setting`, e.g.
 * CURSOR_SIGNING_KEYS): comma-separated `kid:base64url` pairs of at least 256 bits.
 * The first key signs; all verify, so a new key can be added first and the old one kept until every
 * token it signed has expired (15 minutes).
 */
export function parseSigningKeys(secret: string, setting = 'JWT_SIGNING_KEYS'): SigningKey[] {
  const keys = secret
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const at = part.indexOf(':');
      if (at <= 0) throw new ConfigurationError([`${setting}: each entry must be kid:base64url-secret`]);
      const key = Buffer.from(part.slice(at + 1), 'base64url');
      if (key.length < 32) throw new ConfigurationError([`${setting}: keys must be at least 256 bits`]);
      return { kid: part.slice(0, at), key: new Uint8Array(key) };
    });
  if (keys.length === 0) throw new ConfigurationError([`${setting}: no key`]);
  return keys;
}

import { createHash, randomBytes } from 'node:crypto';

/** The project reference: refresh tokens live 7 days (each rotation starts a fresh 7 days). */
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 3600;
/** 256 random bits: unguessable, so a fast unsalted hash is enough to store it (nothing to brute-force). */
const REFRESH_TOKEN_BYTES = 32;

/** A new opaque refresh token: 43 base64url characters. Only its hash is ever stored. */
export function newRefreshToken(): string {
  return randomBytes(REFRESH_TOKEN_BYTES).toString('base64url');
}

/** What the database keeps: SHA-256 hex. A leaked table cannot be replayed as tokens. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

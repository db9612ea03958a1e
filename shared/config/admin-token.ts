/**
 * ADMIN_TOKEN strength (issue 19). The token is the second factor of every admin route (with the admin
 * role), compared in constant time but otherwise only as strong as its value: a short or guessable
 * one turns the header into a password anyone can try. In Azure it must be at least 32 characters of
 * random-looking text — 32 base64url characters carry 192 bits — which the runbook's
 * `randomBytes(32).toString('base64url')` (43 characters) satisfies.
 *
 * "Random-looking" is checked cheaply: enough distinct characters and no placeholder text. It cannot
 * prove randomness; it refuses what people actually type (`changeme…`, one character repeated, a
 * template's REPLACE_WITH_…).
 */
export const MIN_ADMIN_TOKEN_LENGTH = 32;
const MIN_DISTINCT_CHARACTERS = 16;
const PLACEHOLDER = /replace|changeme|change_me|example|password|secret|admin/i;

/** Why `token` is too weak for Azure, or null when it is acceptable. Never quotes the token. */
export function adminTokenWeakness(token: string): string | null {
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) return `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`;
  if (new Set(token).size < MIN_DISTINCT_CHARACTERS) return 'must be random (too few distinct characters)';
  if (PLACEHOLDER.test(token)) return 'must be random (looks like a placeholder or a word)';
  return null;
}

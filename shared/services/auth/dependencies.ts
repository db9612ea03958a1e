import { getLoginRateLimiter } from '../rate-limit/login-rate-limiter.js';
import { getFieldCipher } from '../pii-cipher.js';
import type { AccessTokenService } from './access-token.js';
import type { AuthDependencies } from './auth-service.js';
import { getPasswordHasher } from './passwords.js';
import { getEmailIndexKey } from './pii-keys.js';

/**
 * The process-wide pieces AuthService needs, each current with its secret (Fernet keys, blind-index key
 * and signing keys are re-read through the secret provider, so rotation needs no restart).
 */
export async function loadAuthDependencies(accessTokens: AccessTokenService): Promise<AuthDependencies> {
  const [cipher, emailIndexKey] = await Promise.all([getFieldCipher(), getEmailIndexKey()]);
  return {
    hasher: getPasswordHasher(),
    cipher,
    emailIndexKey,
    accessTokens,
    rateLimiter: getLoginRateLimiter(),
  };
}

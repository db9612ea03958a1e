import type { Redis } from 'ioredis';
import { LOGIN_RATE_LIMIT, rateLimiter } from './limits.js';
import { RateLimiter, type RateLimitPolicy } from './rate-limiter.js';

export { LOGIN_RATE_LIMIT } from './limits.js';

/** The login limiter: 10 attempts per address per 15 minutes unless told otherwise. */
export class LoginRateLimiter extends RateLimiter {
  constructor(store: () => Redis | null, policy: RateLimitPolicy = LOGIN_RATE_LIMIT) {
    super(store, policy);
  }
}

/** The process-wide login limiter. */
export function getLoginRateLimiter(): RateLimiter {
  return rateLimiter(LOGIN_RATE_LIMIT);
}

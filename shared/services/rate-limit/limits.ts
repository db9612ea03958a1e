import type { Redis } from 'ioredis';
import { getRateLimitRedis } from '../../cache/redis.js';
import { getSettings } from '../../config/index.js';
import type { Logger } from '../../logging/logger.js';
import { RateLimiter, type RateLimitPolicy } from './rate-limiter.js';

/**
 * Every limited action and its budget (ADR 0021). Budgets are per window, fixed from the first
 * attempt. Each is generous for a person and stops a script:
 * - login: the project reference's 10 per 15 minutes per address (ADR 0010);
 * - registration: per address (a script from one machine) and per tenant (a botnet against one shop),
 *   each registration costs a cost-12 bcrypt hash;
 * - reviews, cart writes, checkout: per user, since each needs an account; checkout also reserves stock
 *   (fair-stock caps in services/checkout/fair-stock.ts bound what one user can hold at once).
 */
export const LOGIN_RATE_LIMIT: RateLimitPolicy = {
  name: 'login',
  message: 'Too many login attempts from this address; try again later.',
  keyKind: 'address',
  points: 10,
  durationSeconds: 15 * 60,
  keyPrefix: 'rl:login-ip',
};

export const REGISTER_IP_RATE_LIMIT: RateLimitPolicy = {
  name: 'register-ip',
  message: 'Too many accounts registered from this address; try again later.',
  keyKind: 'address',
  points: 5,
  durationSeconds: 60 * 60,
  keyPrefix: 'rl:register-ip',
};

export const REGISTER_TENANT_RATE_LIMIT: RateLimitPolicy = {
  name: 'register-tenant',
  message: 'This shop is receiving too many registrations; try again later.',
  keyKind: 'id',
  points: 300,
  durationSeconds: 60 * 60,
  keyPrefix: 'rl:register-tenant',
};

export const REVIEW_RATE_LIMIT: RateLimitPolicy = {
  name: 'review',
  message: 'Too many reviews from this account; try again later.',
  keyKind: 'id',
  points: 10,
  durationSeconds: 60 * 60,
  keyPrefix: 'rl:review-user',
};

export const CART_WRITE_RATE_LIMIT: RateLimitPolicy = {
  name: 'cart-write',
  message: 'Too many cart changes from this account; slow down.',
  keyKind: 'id',
  points: 120,
  durationSeconds: 60,
  keyPrefix: 'rl:cart-user',
};

export const CHECKOUT_RATE_LIMIT: RateLimitPolicy = {
  name: 'checkout',
  message: 'Too many checkouts from this account; try again later.',
  keyKind: 'id',
  // Every request counts, retries with the same Idempotency-Key too (a client that lost an answer
  // retries, possibly concurrently): 30 leaves room for that; what one user can hold is bounded by
  // the fair-stock caps, not by this.
  points: 30,
  durationSeconds: 10 * 60,
  keyPrefix: 'rl:checkout-user',
};

/** The limiters' store: the rate-limit Redis, or null for the local host's single-process stand-in. */
function store(): Redis | null {
  return getSettings().REDIS_URL.startsWith('memory://') ? null : getRateLimitRedis();
}

// One limiter per policy per process: the in-memory fallback must outlive single invocations.
const limiters = new Map<string, RateLimiter>();

export function rateLimiter(policy: RateLimitPolicy): RateLimiter {
  let limiter = limiters.get(policy.name);
  if (!limiter) {
    limiter = new RateLimiter(store, policy);
    limiters.set(policy.name, limiter);
  }
  return limiter;
}

/**
 * Counts one attempt of `subject` (an address or an id, as the policy says) against `policy`.
 * @throws RateLimitedException (429 + Retry-After) when its budget is spent.
 */
export async function enforceLimit(policy: RateLimitPolicy, subject: string, log: Logger): Promise<void> {
  await rateLimiter(policy).consume(subject, log);
}

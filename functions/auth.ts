import './lib/telemetry-start.js';
import {
  ChangePasswordBody,
  LoginBody,
  Profile,
  RefreshBody,
  RegisterBody,
  RegisteredUser,
  TenantHeader,
  TokenPair,
} from '../shared/schemas/auth.js';
import { Problem } from '../shared/schemas/common.js';
import { AuthService } from '../shared/services/auth/auth-service.js';
import {
  enforceLimit,
  REGISTER_IP_RATE_LIMIT,
  REGISTER_TENANT_RATE_LIMIT,
} from '../shared/services/rate-limit/limits.js';
import { loadAuthDependencies } from '../shared/services/auth/dependencies.js';
import type { DomainContext } from '../shared/services/context.js';
import { accessTokens } from './lib/auth.js';
import { PROBLEM_CONTENT_TYPE } from './lib/problem.js';
import type { RouteContext } from './lib/route.js';
import { defineRoute } from './lib/route.js';
import { resolveTenant } from './lib/tenant.js';

const json = <T>(schema: T) => ({ 'application/json': { schema } });
const problem = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
});

// Tokens and profiles must never sit in a shared cache.
const NO_STORE = { 'cache-control': 'no-store' };

async function service(domain: DomainContext): Promise<AuthService> {
  return new AuthService(domain, await loadAuthDependencies(await accessTokens()));
}

/**
 * Refresh and logout are authenticated by the refresh token itself, not a bearer token (the access
 * token is typically expired by then, and must not turn a refresh into a 401). They are `public`
 * routes that name their tenant with X-Tenant-ID, resolved here exactly as for anonymous calls.
 */
async function refreshTokenContext(ctx: RouteContext<unknown, unknown, unknown>): Promise<DomainContext> {
  const tenantId = await resolveTenant(ctx.request, undefined, ctx.em);
  return { em: ctx.em, tenantId, log: ctx.log, correlationId: ctx.correlationId };
}

export const register = defineRoute({
  name: 'register',
  method: 'POST',
  route: 'auth/register',
  access: 'tenant',
  // No ambient transaction: bcrypt (~200 ms) must not hold a pooled connection; the write is one INSERT.
  tx: 'read',
  tags: ['auth'],
  summary: 'Create a customer account',
  description:
    'Email unique per shop (compared case-insensitively after Unicode NFKC). Password: at least 12 ' +
    'characters and at most 72 bytes of UTF-8 — longer passwords are refused, never truncated. ' +
    'Email, phone and address are stored encrypted.',
  body: RegisterBody,
  responses: {
    201: { description: 'Created', content: json(RegisteredUser) },
    409: problem('This shop already has an account with this email.'),
    429: problem('Too many registrations from this address or for this shop; see Retry-After.'),
    503: problem('Password hashing is saturated; see Retry-After.'),
  },
  handler: async ({ body, domain, clientIp, log }) => {
    // Per address first: a refused address does not spend the shop's budget.
    await enforceLimit(REGISTER_IP_RATE_LIMIT, clientIp, log);
    await enforceLimit(REGISTER_TENANT_RATE_LIMIT, domain.tenantId, log);
    return { status: 201, body: await (await service(domain)).register(body), headers: NO_STORE };
  },
});

export const login = defineRoute({
  name: 'login',
  method: 'POST',
  route: 'auth/login',
  access: 'tenant',
  tx: 'read',
  tags: ['auth'],
  summary: 'Exchange email and password for a token pair',
  description:
    '10 attempts per client address per 15 minutes (every attempt counts, successful or not) → 429 ' +
    'with Retry-After. Unknown email and wrong password get the same answer in the same time.',
  body: LoginBody,
  responses: {
    200: { description: 'Signed in', content: json(TokenPair) },
    401: problem('The email or password is incorrect.'),
    429: problem('Too many attempts from this address; see Retry-After.'),
  },
  handler: async ({ body, domain, clientIp }) => ({
    body: await (await service(domain)).login(body.email, body.password, clientIp),
    headers: NO_STORE,
  }),
});

export const refresh = defineRoute({
  name: 'refresh',
  method: 'POST',
  route: 'auth/refresh',
  access: 'public',
  // AuthService opens its own transaction for the rotation; a detected reuse must commit its
  // revocation even though the answer is a 401.
  tx: 'read',
  tags: ['auth'],
  summary: 'Rotate a refresh token',
  description:
    'Returns a new pair; the presented refresh token is spent. Presenting a spent token again revokes ' +
    'its whole session (family) → 401. Of concurrent refreshes of one token exactly one succeeds.',
  headers: TenantHeader,
  body: RefreshBody,
  responses: {
    200: { description: 'Rotated', content: json(TokenPair) },
    401: problem('Invalid, expired, revoked or reused refresh token.'),
    404: problem('Unknown tenant.'),
  },
  handler: async (ctx) => ({
    body: await (await service(await refreshTokenContext(ctx))).refresh(ctx.body.refreshToken),
    headers: NO_STORE,
  }),
});

export const logout = defineRoute({
  name: 'logout',
  method: 'POST',
  route: 'auth/logout',
  access: 'public',
  tags: ['auth'],
  summary: 'End the refresh token’s session',
  description:
    'Revokes every refresh token of the session (family). An unknown token is not an error (RFC 7009). ' +
    'Access tokens already issued stay valid until they expire (15 minutes).',
  headers: TenantHeader,
  body: RefreshBody,
  responses: { 204: { description: 'Signed out' }, 404: problem('Unknown tenant.') },
  handler: async (ctx) => {
    await (await service(await refreshTokenContext(ctx))).logout(ctx.body.refreshToken);
    return { status: 204 };
  },
});

export const me = defineRoute({
  name: 'me',
  method: 'GET',
  route: 'me',
  access: 'customer',
  tags: ['auth'],
  summary: 'The caller’s own profile',
  description: 'Email, phone and address are decrypted for their owner only.',
  responses: { 200: { description: 'Profile', content: json(Profile) } },
  handler: async ({ domain, principal }) => ({
    body: await (await service(domain)).profile(principal!.userId),
    headers: { ...NO_STORE, vary: 'Authorization' },
  }),
});

export const changePassword = defineRoute({
  name: 'changePassword',
  method: 'POST',
  route: 'auth/password',
  access: 'customer',
  tx: 'read',
  tags: ['auth'],
  summary: 'Change the caller’s password',
  description:
    'Checks the current password (guesses count against the login rate limit), ends every session of ' +
    'the account and invalidates access tokens issued before now; returns a fresh pair for this client.',
  body: ChangePasswordBody,
  responses: {
    200: { description: 'Changed', content: json(TokenPair) },
    403: problem('The current password is not correct.'),
    429: problem('Too many attempts from this address; see Retry-After.'),
  },
  handler: async ({ body, domain, principal, clientIp }) => ({
    body: await (
      await service(domain)
    ).changePassword(principal!.userId, body.currentPassword, body.newPassword, clientIp),
    headers: NO_STORE,
  }),
});

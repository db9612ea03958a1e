import { timingSafeEqual, createHash } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';
import type { EntityManager } from '@mikro-orm/postgresql';
import { adminTokenWeakness, ConfigurationError, getSettings } from '../../shared/config/index.js';
import { ForbiddenException, UnauthorizedException } from '../../shared/errors/index.js';
import { getSecret } from '../../shared/secrets/provider.js';
import { AccessTokenService, type AccessClaims } from '../../shared/services/auth/access-token.js';
import type { Principal } from '../../shared/services/context.js';
import type { Role } from '../../shared/models/user.js';
import { isUuid } from '../../shared/utils/ids.js';

let tokenService: { secret: string; service: AccessTokenService } | undefined;

/** Rebuilt when the signing-key secret changes (rotation through Key Vault needs no restart). */
export async function accessTokens(): Promise<AccessTokenService> {
  const secret = await getSecret('JWT_SIGNING_KEYS');
  if (tokenService?.secret !== secret) {
    const settings = getSettings();
    tokenService = {
      secret,
      service: new AccessTokenService({
        issuer: settings.JWT_ISSUER,
        audience: settings.JWT_AUDIENCE,
        signingKeys: secret,
      }),
    };
  }
  return tokenService.service;
}

/** The bearer token, undefined without an Authorization header; 401 when the header is malformed. */
export function bearerToken(request: HttpRequest): string | undefined {
  const header = request.headers.get('authorization');
  if (!header) return undefined;
  const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim());
  if (!match) throw new UnauthorizedException('The Authorization header must be `Bearer <token>`.');
  return match[1];
}

interface UserAuthRow {
  roles: Role[];
  deleted_at: Date | null;
  password_changed_at: Date;
}

/** Verifies the bearer token's signature and claims (no database); undefined when there is none. */
export async function verifyBearer(request: HttpRequest): Promise<AccessClaims | undefined> {
  const token = bearerToken(request);
  if (token === undefined) return undefined;
  return verifyToken(token);
}

/** Verifies a bearer token's signature and claims (no database). */
export async function verifyToken(token: string): Promise<AccessClaims> {
  return (await accessTokens()).verify(token);
}

/**
 * The caller behind verified claims. The token alone is not enough: the user must still exist in the
 * token's tenant, and tokens issued before a password change are refused.
 */
export async function loadPrincipal(claims: AccessClaims, em: EntityManager): Promise<Principal> {
  // Ids that are not uuids cannot name a user; sent to PostgreSQL they would fail the uuid cast (500).
  if (!isUuid(claims.userId) || !isUuid(claims.tenantId))
    throw new UnauthorizedException('The access token is invalid.');
  const rows = await em.execute<UserAuthRow[]>(
    'select roles, deleted_at, password_changed_at from users where id = ? and tenant_id = ?',
    [claims.userId, claims.tenantId],
  );
  const user = rows[0];
  if (!user || user.deleted_at) throw new UnauthorizedException('The access token is invalid.');
  if (claims.issuedAt < Math.floor(new Date(user.password_changed_at).getTime() / 1000)) {
    throw new UnauthorizedException('The access token was issued before a password change.');
  }
  return { userId: claims.userId, tenantId: claims.tenantId, roles: user.roles };
}

/** Both steps at once, for callers that already hold a unit of work. */
export async function authenticate(request: HttpRequest, em: EntityManager): Promise<Principal | undefined> {
  const claims = await verifyBearer(request);
  return claims ? loadPrincipal(claims, em) : undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Compares digests so neither the length nor the content of the expected token leaks through timing. */
export function constantTimeEquals(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Admin = X-Admin-Token (missing → 401, wrong → 403) and an access token with role admin (→ 403). */
export async function requireAdmin(
  request: HttpRequest,
  principal: Principal | undefined,
): Promise<Principal> {
  if (!principal) throw new UnauthorizedException('Admin endpoints need a bearer token.');
  const given = request.headers.get('x-admin-token');
  if (!given) throw new UnauthorizedException('Admin endpoints need the X-Admin-Token header.');
  // Role first: a non-admin must learn nothing about whether a guessed admin token was right.
  if (!principal.roles.includes('admin')) throw new ForbiddenException('This endpoint needs the admin role.');
  const expected = await getSecret('ADMIN_TOKEN');
  // The vault's value may have been rotated to a weak one since start-up: admin stays shut until fixed.
  const weakness = getSettings().APP_ENV === 'azure' ? adminTokenWeakness(expected) : null;
  if (weakness) throw new ConfigurationError([`ADMIN_TOKEN: ${weakness}`]);
  if (!constantTimeEquals(given, expected)) {
    throw new ForbiddenException('The admin token is not valid.');
  }
  return principal;
}

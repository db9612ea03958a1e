import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { parseSigningKeys } from '../../../shared/services/auth/signing-keys.js';

/**
 * Bearer tokens an attacker could send — unsigned, tampered, signed with a wrong key — and tokens
 * signed with the run's real key but carrying hostile claims (which only a key leak would allow, but
 * which must still be a 4xx, never a 500 from a query on a non-uuid id).
 */
export interface ForgeContext {
  userId: string;
  tenantId: string;
  otherTenantId: string;
  validToken: string;
}

function b64(json: unknown): string {
  return Buffer.from(JSON.stringify(json)).toString('base64url');
}

async function signed(
  claims: Record<string, unknown>,
  options: { sub?: string; iat?: number; exp?: number; issuer?: string; audience?: string } = {},
): Promise<string> {
  const [key] = parseSigningKeys(process.env.JWT_SIGNING_KEYS!);
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', kid: key!.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? process.env.JWT_ISSUER ?? 'ecommerce-api')
    .setAudience(options.audience ?? process.env.JWT_AUDIENCE ?? 'ecommerce-api-clients')
    .setIssuedAt(options.iat ?? now)
    .setNotBefore(options.iat ?? now)
    .setExpirationTime(options.exp ?? now + 600);
  if (options.sub !== undefined) jwt.setSubject(options.sub);
  return jwt.sign(key!.key);
}

export async function forgedTokens(ctx: ForgeContext, hostileStrings: string[]): Promise<[string, string][]> {
  const [header, payload] = ctx.validToken.split('.');
  const now = Math.floor(Date.now() / 1000);
  const base = { tid: ctx.tenantId, roles: ['customer'] };
  const out: [string, string][] = [
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`],
    [
      'alg none, admin',
      `${b64({ alg: 'none' })}.${b64({ sub: ctx.userId, tid: ctx.tenantId, roles: ['admin'] })}.`,
    ],
    ['tampered signature', `${header}.${payload}.${randomBytes(32).toString('base64url')}`],
    [
      'tampered payload',
      `${header}.${b64({ sub: ctx.userId, tid: ctx.tenantId, roles: ['admin'] })}.${ctx.validToken.split('.')[2]}`,
    ],
    ['no signature', `${header}.${payload}`],
    ['four parts', `${ctx.validToken}.x`],
    [
      'signed with another key',
      await new SignJWT(base)
        .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'JWT' })
        .setSubject(ctx.userId)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(randomBytes(32)),
    ],
    ['expired', await signed(base, { sub: ctx.userId, iat: now - 3600, exp: now - 1800 })],
    ['issued in the future', await signed(base, { sub: ctx.userId, iat: now + 3600, exp: now + 7200 })],
    ['wrong issuer', await signed(base, { sub: ctx.userId, issuer: 'evil' })],
    ['wrong audience', await signed(base, { sub: ctx.userId, audience: 'evil' })],
    ['no subject', await signed(base)],
    ['unknown user', await signed(base, { sub: randomUUID() })],
    [
      'role escalation (customer claims admin)',
      await signed({ ...base, roles: ['admin'] }, { sub: ctx.userId }),
    ],
    ['unknown role', await signed({ ...base, roles: ['root'] }, { sub: ctx.userId })],
    ['roles not an array', await signed({ ...base, roles: 'admin' }, { sub: ctx.userId })],
    [
      'user of this tenant under another tenant id',
      await signed({ ...base, tid: ctx.otherTenantId }, { sub: ctx.userId }),
    ],
    ['tenant id not a uuid', await signed({ ...base, tid: "' or 1=1 --" }, { sub: ctx.userId })],
    ['tenant id a number', await signed({ ...base, tid: 42 }, { sub: ctx.userId })],
  ];
  for (const [i, s] of hostileStrings.entries()) {
    out.push([`hostile subject #${i}`, await signed(base, { sub: s })]);
    out.push([`hostile tenant #${i}`, await signed({ ...base, tid: s }, { sub: ctx.userId })]);
  }
  return out;
}

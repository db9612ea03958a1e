import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { UnauthorizedException } from '../../errors/index.js';
import type { Role } from '../../models/user.js';
import { parseSigningKeys, type SigningKey } from './signing-keys.js';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/** The only algorithm we issue and accept: `alg: none`, RS/HS confusion and the rest are refused. */
const ALGORITHM = 'HS256';
const CLOCK_TOLERANCE_SECONDS = 5;

export interface AccessClaims {
  userId: string;
  tenantId: string;
  roles: Role[];
  issuedAt: number;
}

export interface TokenSettings {
  issuer: string;
  audience: string;
  signingKeys: string;
}

export class AccessTokenService {
  private readonly keys: SigningKey[];

  constructor(
    private readonly settings: TokenSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = parseSigningKeys(settings.signingKeys);
  }

  async issue(claims: Omit<AccessClaims, 'issuedAt'>): Promise<string> {
    const signer = this.keys[0]!;
    const nowSeconds = Math.floor(this.now() / 1000);
    return new SignJWT({ tid: claims.tenantId, roles: claims.roles })
      .setProtectedHeader({ alg: ALGORITHM, kid: signer.kid, typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt(nowSeconds)
      .setNotBefore(nowSeconds)
      .setExpirationTime(nowSeconds + ACCESS_TOKEN_TTL_SECONDS)
      .sign(signer.key);
  }

  /** Verifies signature, algorithm, issuer, audience, expiry and not-before; any failure is a 401. */
  async verify(token: string): Promise<AccessClaims> {
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(
        token,
        (header) => {
          const key = this.keys.find((k) => k.kid === header.kid);
          if (!key) throw new UnauthorizedException('Unknown signing key.');
          return key.key;
        },
        {
          algorithms: [ALGORITHM],
          issuer: this.settings.issuer,
          audience: this.settings.audience,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['sub', 'exp', 'iat', 'nbf'],
          currentDate: new Date(this.now()),
        },
      );
      payload = result.payload;
    } catch (error) {
      if (error instanceof UnauthorizedException) throw error;
      if (error instanceof joseErrors.JWTExpired)
        throw new UnauthorizedException('The access token has expired.');
      throw new UnauthorizedException('The access token is invalid.');
    }
    const roles = payload.roles;
    if (
      typeof payload.sub !== 'string' ||
      typeof payload.tid !== 'string' ||
      !Array.isArray(roles) ||
      !roles.every((r) => r === 'customer' || r === 'admin')
    ) {
      throw new UnauthorizedException('The access token is invalid.');
    }
    return { userId: payload.sub, tenantId: payload.tid, roles: roles as Role[], issuedAt: payload.iat ?? 0 };
  }
}

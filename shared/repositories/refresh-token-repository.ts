import type { DomainContext } from '../services/context.js';

/** The refresh token row a successful claim rotated. */
export interface ClaimedRefreshToken {
  id: string;
  userId: string;
  familyId: string;
}

/** A refresh token's state, for explaining why it could not be claimed. */
export interface RefreshTokenState {
  id: string;
  userId: string;
  familyId: string;
  rotated: boolean;
  revoked: boolean;
  expired: boolean;
}

interface ClaimSqlRow {
  id: string;
  user_id: string;
  family_id: string;
}

interface StateSqlRow extends ClaimSqlRow {
  rotated: boolean;
  revoked: boolean;
  expired: boolean;
}

/**
 * Refresh tokens of the context's tenant, stored only as SHA-256 hashes. A family is one login's chain
 * of rotations; revoking it ends that session everywhere. Times come from the database clock, which is
 * also the clock every expiry comparison uses.
 */
export class RefreshTokenRepository {
  constructor(private readonly ctx: DomainContext) {}

  async insert(token: {
    id: string;
    userId: string;
    familyId: string;
    tokenHash: string;
    ttlSeconds: number;
  }): Promise<void> {
    await this.ctx.em.execute(
      `insert into refresh_tokens (id, tenant_id, user_id, family_id, token_hash, expires_at)
       values (?, ?, ?, ?, ?, now() + make_interval(secs => ?))`,
      [token.id, this.ctx.tenantId, token.userId, token.familyId, token.tokenHash, token.ttlSeconds],
    );
  }

  /**
   * Marks a usable token (not rotated, revoked or expired) as rotated, atomically: of any number of
   * concurrent claims of one token exactly one gets the row back.
   *
   * `for update skip locked`: a claim that finds the row locked by a rotation in flight returns nothing at
   * once instead of waiting for it. The caller can then tell "another request is rotating this token
   * right now" (row still unrotated and unlocked-looking to a plain read) from "this token was rotated
   * earlier" (reuse → revoke the family) — see `AuthService.refresh`.
   */
  async claim(tokenHash: string): Promise<ClaimedRefreshToken | null> {
    const rows = await this.ctx.em.execute<ClaimSqlRow[]>(
      `update refresh_tokens set rotated_at = now()
        where id = (select id from refresh_tokens
                     where tenant_id = ? and token_hash = ?
                       and rotated_at is null and revoked_at is null and expires_at > now()
                     for update skip locked)
          and rotated_at is null
        returning id, user_id, family_id`,
      [this.ctx.tenantId, tokenHash],
    );
    const row = rows[0];
    return row ? { id: row.id, userId: row.user_id, familyId: row.family_id } : null;
  }

  async findState(tokenHash: string): Promise<RefreshTokenState | null> {
    const rows = await this.ctx.em.execute<StateSqlRow[]>(
      `select id, user_id, family_id, rotated_at is not null as rotated, revoked_at is not null as revoked,
              expires_at <= now() as expired
         from refresh_tokens where tenant_id = ? and token_hash = ?`,
      [this.ctx.tenantId, tokenHash],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      id: row.id,
      userId: row.user_id,
      familyId: row.family_id,
      rotated: row.rotated,
      revoked: row.revoked,
      expired: row.expired,
    };
  }

  /** Ends one session (logout, reuse detected). @returns tokens newly revoked. */
  async revokeFamily(familyId: string): Promise<number> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      `update refresh_tokens set revoked_at = now()
        where tenant_id = ? and family_id = ? and revoked_at is null returning id`,
      [this.ctx.tenantId, familyId],
    );
    return rows.length;
  }

  /** Ends every session of a user (password change). @returns tokens newly revoked. */
  async revokeAllOfUser(userId: string): Promise<number> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      `update refresh_tokens set revoked_at = now()
        where tenant_id = ? and user_id = ? and revoked_at is null returning id`,
      [this.ctx.tenantId, userId],
    );
    return rows.length;
  }
}

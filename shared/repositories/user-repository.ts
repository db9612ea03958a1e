import type { Role } from '../models/user.js';
import type { DomainContext } from '../services/context.js';

/** A user as stored: PII columns still encrypted (Fernet tokens). */
export interface StoredUser {
  id: string;
  tenantId: string;
  emailEnc: string;
  phoneEnc: string | null;
  addressEnc: string | null;
  name: string;
  roles: Role[];
  createdAt: Date;
}

/** What a password check needs. */
export interface UserCredentials {
  id: string;
  passwordHash: string;
  roles: Role[];
}

export interface NewUser {
  id: string;
  emailEnc: string;
  emailBidx: string;
  phoneEnc: string | null;
  addressEnc: string | null;
  name: string;
  passwordHash: string;
  roles: Role[];
}

interface UserSqlRow {
  id: string;
  tenant_id: string;
  email_enc: string;
  phone_enc: string | null;
  address_enc: string | null;
  name: string;
  roles: Role[];
  created_at: Date | string;
}

interface CredentialsSqlRow {
  id: string;
  password_hash: string;
  roles: Role[];
}

/** `array[?]` expands a JS array into one literal per element; roles are never empty. */
function rolesSql(roles: Role[]): string {
  if (roles.length === 0) throw new Error('a user needs at least one role');
  return `array[${roles.map(() => '?').join(', ')}]::text[]`;
}

/**
 * Users of the context's tenant. Every statement filters by tenant_id, so an id or email of another
 * tenant is simply not found. Deleted users (deleted_at set) are invisible to every read.
 */
export class UserRepository {
  constructor(private readonly ctx: DomainContext) {}

  /**
   * Inserts the user unless the tenant already has one with this email (same blind index).
   * `on conflict do nothing` rather than catching the unique violation: a violation would abort the
   * surrounding transaction. @returns false when the email is taken.
   */
  async insert(user: NewUser, passwordChangedAt: Date): Promise<boolean> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      `insert into users (id, tenant_id, email_enc, email_bidx, phone_enc, address_enc, name, password_hash,
         roles, password_changed_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ${rolesSql(user.roles)}, to_timestamp(?))
       on conflict (tenant_id, email_bidx) do nothing
       returning id`,
      [
        user.id,
        this.ctx.tenantId,
        user.emailEnc,
        user.emailBidx,
        user.phoneEnc,
        user.addressEnc,
        user.name,
        user.passwordHash,
        ...user.roles,
        passwordChangedAt.getTime() / 1000,
      ],
    );
    return rows.length === 1;
  }

  async findById(id: string): Promise<StoredUser | null> {
    const rows = await this.ctx.em.execute<UserSqlRow[]>(
      `select id, tenant_id, email_enc, phone_enc, address_enc, name, roles, created_at
         from users where tenant_id = ? and id = ? and deleted_at is null`,
      [this.ctx.tenantId, id],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      id: row.id,
      tenantId: row.tenant_id,
      emailEnc: row.email_enc,
      phoneEnc: row.phone_enc,
      addressEnc: row.address_enc,
      name: row.name,
      roles: row.roles,
      createdAt: new Date(row.created_at),
    };
  }

  /** Login lookup by the email's blind index (never by plaintext). */
  async findCredentialsByEmailIndex(emailBidx: string): Promise<UserCredentials | null> {
    return this.#credentials('email_bidx = ?', emailBidx);
  }

  async findCredentialsById(id: string): Promise<UserCredentials | null> {
    return this.#credentials('id = ?', id);
  }

  async #credentials(condition: string, value: string): Promise<UserCredentials | null> {
    const rows = await this.ctx.em.execute<CredentialsSqlRow[]>(
      `select id, password_hash, roles from users
        where tenant_id = ? and ${condition} and deleted_at is null`,
      [this.ctx.tenantId, value],
    );
    const row = rows[0];
    return row ? { id: row.id, passwordHash: row.password_hash, roles: row.roles } : null;
  }

  /**
   * A new password: every access token issued before `changedAt` stops working (the bearer check
   * compares it with the token's `iat`). `changedAt` comes from the app clock, the same clock that
   * stamps `iat`, so a token issued right after the change is never refused because of clock skew
   * between the app and the database.
   */
  async updatePassword(id: string, passwordHash: string, changedAt: Date): Promise<boolean> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      `update users set password_hash = ?, password_changed_at = to_timestamp(?), updated_at = now()
        where tenant_id = ? and id = ? and deleted_at is null returning id`,
      [passwordHash, changedAt.getTime() / 1000, this.ctx.tenantId, id],
    );
    return rows.length === 1;
  }

  /** The same password under a stronger hash (cost raised): sessions and tokens stay valid. */
  async replaceHash(id: string, oldHash: string, newHash: string): Promise<void> {
    // Only if unchanged since it was read: a concurrent password change must win.
    await this.ctx.em.execute(
      `update users set password_hash = ?, updated_at = now()
        where tenant_id = ? and id = ? and password_hash = ?`,
      [newHash, this.ctx.tenantId, id, oldHash],
    );
  }

  /** Adds roles the user lacks (idempotent). */
  async grantRoles(id: string, roles: Role[]): Promise<void> {
    await this.ctx.em.execute(
      `update users set roles = (select array_agg(distinct r order by r) from unnest(roles || ${rolesSql(roles)}) r),
              updated_at = now()
        where tenant_id = ? and id = ? and not (roles @> ${rolesSql(roles)})`,
      [...roles, this.ctx.tenantId, id, ...roles],
    );
  }
}

import type { FieldCipher } from '../../crypto/field-cipher.js';
import { emailBlindIndex } from '../../crypto/blind-index.js';
import type { PasswordHasher } from '../../crypto/password-hasher.js';
import { ConflictException } from '../../errors/index.js';
import type { Role } from '../../models/user.js';
import { UserRepository } from '../../repositories/user-repository.js';
import { newId } from '../../utils/ids.js';
import type { DomainContext } from '../context.js';
import { verifyStoredHash, withPasswordPolicy } from './passwords.js';
import { replacePasswordAndEndSessions } from './sessions.js';
import { encryptPii } from './user-pii.js';

export interface AccountSpec {
  email: string;
  password: string;
  name: string;
  roles: Role[];
}

export interface AccountOutcome {
  id: string;
  /** `created`; `updated` (roles granted and/or password reset); `unchanged`. */
  outcome: 'created' | 'updated' | 'unchanged';
}

export interface AccountBootstrapDeps {
  hasher: PasswordHasher;
  cipher: FieldCipher;
  emailIndexKey: Buffer;
}

/**
 * Makes sure an account exists with this email, these roles (added, never removed) and this password.
 * Running it again with the same arguments changes nothing; with another password it resets the
 * password, which ends the account's sessions. For `admin:create` and the local sample data.
 * Runs in the caller's transaction.
 */
export async function ensureAccount(
  ctx: DomainContext,
  deps: AccountBootstrapDeps,
  spec: AccountSpec,
): Promise<AccountOutcome> {
  const users = new UserRepository(ctx);
  const existing = await users.findCredentialsByEmailIndex(emailBlindIndex(deps.emailIndexKey, spec.email));
  if (!existing) {
    const id = newId();
    const passwordHash = await withPasswordPolicy('password', () => deps.hasher.hash(spec.password));
    const created = await users.insert(
      {
        id,
        ...encryptPii({ email: spec.email }, deps.cipher, deps.emailIndexKey),
        name: spec.name,
        passwordHash,
        roles: spec.roles,
      },
      new Date(),
    );
    // Taken between the read and the insert, or held by a deleted account.
    if (!created) throw new ConflictException('An account with this email already exists.');
    return { id, outcome: 'created' };
  }
  let changed = false;
  const missing = spec.roles.filter((role) => !existing.roles.includes(role));
  if (missing.length > 0) {
    await users.grantRoles(existing.id, missing);
    changed = true;
  }
  const verdict = await withPasswordPolicy('password', () =>
    verifyStoredHash(deps.hasher, spec.password, existing.passwordHash),
  );
  if (verdict !== 'match') {
    const passwordHash = await withPasswordPolicy('password', () => deps.hasher.hash(spec.password));
    await replacePasswordAndEndSessions(ctx, existing.id, passwordHash, new Date());
    changed = true;
  }
  return { id: existing.id, outcome: changed ? 'updated' : 'unchanged' };
}

import { NotFoundException } from '../../errors/index.js';
import { RefreshTokenRepository } from '../../repositories/refresh-token-repository.js';
import { UserRepository } from '../../repositories/user-repository.js';
import type { DomainContext } from '../context.js';

/**
 * Stores a new password hash and ends every session of the user: all refresh-token families are
 * revoked, and access tokens issued before `changedAt` are refused by the bearer check (it compares
 * `password_changed_at` with the token's `iat`). Run it inside a transaction so both happen or neither.
 * @returns refresh tokens revoked.
 */
export async function replacePasswordAndEndSessions(
  ctx: DomainContext,
  userId: string,
  passwordHash: string,
  changedAt: Date,
): Promise<number> {
  const updated = await new UserRepository(ctx).updatePassword(userId, passwordHash, changedAt);
  if (!updated) throw new NotFoundException('User not found.');
  return new RefreshTokenRepository(ctx).revokeAllOfUser(userId);
}

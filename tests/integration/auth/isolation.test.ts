import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { logout, me, refresh } from '../../../functions/auth.js';
import { closeRedis } from '../../../shared/cache/redis.js';
import { emailBlindIndex } from '../../../shared/crypto/blind-index.js';
import { closeOrms, getOrm } from '../../../shared/db/orm.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { RefreshTokenRepository } from '../../../shared/repositories/refresh-token-repository.js';
import { UserRepository } from '../../../shared/repositories/user-repository.js';
import { closePasswordHasher } from '../../../shared/services/auth/passwords.js';
import type { DomainContext } from '../../../shared/services/context.js';
import { closeTestPool, createTenant, testPool } from '../../fixtures/sample_data.js';
import { accessTokenFor, testPii } from '../../fixtures/users.js';
import { STRONG_PASSWORD, call, loginUser, registerUser } from './helpers.js';

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

describe('tenant isolation of identity', () => {
  let tenantA: string;
  let tenantB: string;
  let userA: { id: string; email: string; accessToken: string; refreshToken: string };
  let userB: { id: string; email: string; accessToken: string; refreshToken: string };

  async function signUp(tenantId: string) {
    const reg = await registerUser(tenantId);
    const session = await loginUser(tenantId, reg.input.email, STRONG_PASSWORD);
    return { id: reg.json.id as string, email: reg.input.email, ...session.json };
  }

  beforeAll(async () => {
    tenantA = (await createTenant('Shop A')).id;
    tenantB = (await createTenant('Shop B')).id;
    userA = await signUp(tenantA);
    userB = await signUp(tenantB);
  });
  afterAll(async () => {
    await closeOrms();
    await closeRedis();
    await closePasswordHasher();
    await closeTestPool();
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('refuses a token of tenant A presented with X-Tenant-ID of tenant B (403)', async () => {
    const res = await call(me, 'GET', 'me', {
      headers: { ...bearer(userA.accessToken), 'x-tenant-id': tenantB },
    });
    expect(res.status).toBe(403);
    const same = await call(me, 'GET', 'me', {
      headers: { ...bearer(userA.accessToken), 'x-tenant-id': tenantA },
    });
    expect(same.status).toBe(200);
  });

  it('refuses a correctly signed token naming tenant A for a user of tenant B (the user row is looked up in A)', async () => {
    const forged = await accessTokenFor({ id: userB.id, tenantId: tenantA, roles: ['customer'] });
    const res = await call(me, 'GET', 'me', { headers: bearer(forged) });
    expect(res.status).toBe(401);
    expect(res.text).not.toContain(userB.email);
  });

  it('does not log a user of B in through A', async () => {
    expect((await loginUser(tenantA, userB.email, STRONG_PASSWORD)).status).toBe(401);
    expect((await loginUser(tenantB, userB.email, STRONG_PASSWORD)).status).toBe(200);
  });

  it('does not rotate or revoke B’s refresh token through A', async () => {
    expect(
      (
        await call(refresh, 'POST', 'auth/refresh', {
          tenantId: tenantA,
          body: { refreshToken: userB.refreshToken },
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await call(logout, 'POST', 'auth/logout', {
          tenantId: tenantA,
          body: { refreshToken: userB.refreshToken },
        })
      ).status,
    ).toBe(204);
    const { rows } = await testPool().query(
      'select rotated_at, revoked_at from refresh_tokens where token_hash = $1',
      [sha256(userB.refreshToken)],
    );
    expect(rows[0]).toEqual({ rotated_at: null, revoked_at: null });
    expect(
      (
        await call(refresh, 'POST', 'auth/refresh', {
          tenantId: tenantB,
          body: { refreshToken: userB.refreshToken },
        })
      ).status,
    ).toBe(200);
  });

  it('scopes the repositories: B’s ids, emails, tokens and families are not found through A', async () => {
    const em = (await getOrm()).em.fork({ clear: true });
    const ctxA: DomainContext = { em, tenantId: tenantA, log: silentLogger, correlationId: 'test' };
    const users = new UserRepository(ctxA);
    const tokens = new RefreshTokenRepository(ctxA);
    expect(await users.findById(userB.id)).toBeNull();
    expect(await users.findCredentialsById(userB.id)).toBeNull();
    expect(
      await users.findCredentialsByEmailIndex(emailBlindIndex(testPii().indexKey, userB.email)),
    ).toBeNull();
    expect(await users.updatePassword(userB.id, 'x', new Date())).toBe(false);
    const { rows } = await testPool().query(
      'select family_id from refresh_tokens where user_id = $1 limit 1',
      [userB.id],
    );
    expect(await tokens.revokeFamily(rows[0].family_id)).toBe(0);
    expect(await tokens.revokeAllOfUser(userB.id)).toBe(0);
    expect(await tokens.findState(sha256(userB.refreshToken))).toBeNull();
    expect(await users.findById(userA.id)).not.toBeNull();
  });
});

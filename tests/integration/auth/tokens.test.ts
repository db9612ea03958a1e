import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { changePassword, logout, me, refresh } from '../../../functions/auth.js';
import { closeRedis } from '../../../shared/cache/redis.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { closePasswordHasher } from '../../../shared/services/auth/passwords.js';
import { closeTestPool, createTenant, testPool } from '../../fixtures/sample_data.js';
import { STRONG_PASSWORD, call, loginUser, registerUser } from './helpers.js';

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

describe('refresh tokens: rotation, reuse detection, logout, password change', () => {
  let tenantId: string;

  beforeAll(async () => {
    tenantId = (await createTenant('Token shop')).id;
  });
  afterAll(async () => {
    await closeOrms();
    await closeRedis();
    await closePasswordHasher();
    await closeTestPool();
  });

  async function session(): Promise<{
    userId: string;
    email: string;
    accessToken: string;
    refreshToken: string;
  }> {
    const reg = await registerUser(tenantId);
    const res = await loginUser(tenantId, reg.input.email, STRONG_PASSWORD);
    expect(res.status).toBe(200);
    return { userId: reg.json.id, email: reg.input.email, ...res.json };
  }

  const doRefresh = (refreshToken: string, headers: Record<string, string> = {}, tenant = tenantId) =>
    call(refresh, 'POST', 'auth/refresh', { tenantId: tenant, headers, body: { refreshToken } });
  const doLogout = (refreshToken: string, headers: Record<string, string> = {}) =>
    call(logout, 'POST', 'auth/logout', { tenantId, headers, body: { refreshToken } });
  const profile = (accessToken: string) =>
    call(me, 'GET', 'me', { headers: { authorization: `Bearer ${accessToken}` } });

  async function familyRows(refreshToken: string) {
    const { rows } = await testPool().query(
      `select t.token_hash, t.rotated_at, t.revoked_at from refresh_tokens t
        where t.family_id = (select family_id from refresh_tokens where token_hash = $1)
        order by t.created_at`,
      [sha256(refreshToken)],
    );
    return rows as { token_hash: string; rotated_at: Date | null; revoked_at: Date | null }[];
  }

  it('stores only the SHA-256 of the 256-bit token, never the token', async () => {
    const s = await session();
    expect(Buffer.from(s.refreshToken, 'base64url')).toHaveLength(32);
    const { rows } = await testPool().query(
      `select row_to_json(t)::text as row, token_hash from refresh_tokens t where user_id = $1`,
      [s.userId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).toBe(sha256(s.refreshToken));
    expect(rows[0].row).not.toContain(s.refreshToken);
  });

  it('rotates: a new pair, the old refresh token spent, the new one usable', async () => {
    const s = await session();
    const first = await doRefresh(s.refreshToken);
    expect(first.status).toBe(200);
    expect(first.json.refreshToken).not.toBe(s.refreshToken);
    expect((await profile(first.json.accessToken)).status).toBe(200);
    const second = await doRefresh(first.json.refreshToken);
    expect(second.status).toBe(200);
    const rows = await familyRows(s.refreshToken);
    expect(rows.map((r) => [r.rotated_at !== null, r.revoked_at !== null])).toEqual([
      [true, false],
      [true, false],
      [false, false],
    ]);
  });

  it('treats a reused (already rotated) token as theft: 401 and the whole family revoked', async () => {
    const s = await session();
    const other = await loginUser(tenantId, s.email, STRONG_PASSWORD); // a second session of the same user
    const rotated = await doRefresh(s.refreshToken);
    expect(rotated.status).toBe(200);

    const replay = await doRefresh(s.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.json.detail).toBe('The refresh token is invalid or has expired.');
    // The token the legitimate client (or the thief) got from the rotation is dead too.
    expect((await doRefresh(rotated.json.refreshToken)).status).toBe(401);
    expect((await familyRows(s.refreshToken)).every((r) => r.revoked_at !== null)).toBe(true);
    // Other sessions of the same user are untouched.
    expect((await doRefresh(other.json.refreshToken)).status).toBe(200);
  });

  it('lets exactly one of many concurrent refreshes of one token win', async () => {
    const s = await session();
    const results = await Promise.all(Array.from({ length: 8 }, () => doRefresh(s.refreshToken)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 401, 401, 401, 401, 401, 401, 401]);
    // One rotation happened: the original plus exactly one successor.
    const rows = await familyRows(s.refreshToken);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.rotated_at).not.toBeNull();
  });

  it('does not mistake a rotation in flight for reuse: the family survives a lost race', async () => {
    const s = await session();
    const client = await testPool().connect();
    try {
      await client.query('begin');
      // Another request is mid-rotation: it holds the token's row lock.
      await client.query('select id from refresh_tokens where token_hash = $1 for update', [
        sha256(s.refreshToken),
      ]);
      const loser = await doRefresh(s.refreshToken);
      expect(loser.status).toBe(401);
      expect((await familyRows(s.refreshToken)).every((r) => r.revoked_at === null)).toBe(true);
    } finally {
      await client.query('rollback');
      client.release();
    }
    // That rotation never committed, so the token is still good.
    expect((await doRefresh(s.refreshToken)).status).toBe(200);
  });

  it('refuses an expired refresh token', async () => {
    const s = await session();
    await testPool().query(
      `update refresh_tokens set expires_at = now() - interval '1 second' where token_hash = $1`,
      [sha256(s.refreshToken)],
    );
    expect((await doRefresh(s.refreshToken)).status).toBe(401);
  });

  it('gives tokens 7 days, renewed by each rotation', async () => {
    const s = await session();
    const r = await doRefresh(s.refreshToken);
    const { rows } = await testPool().query(
      `select extract(epoch from expires_at - created_at)::int as ttl from refresh_tokens where token_hash = any($1)`,
      [[sha256(s.refreshToken), sha256(r.json.refreshToken)]],
    );
    expect(rows.map((row) => row.ttl)).toEqual([7 * 24 * 3600, 7 * 24 * 3600]);
  });

  it('refuses a refresh for a deleted user and ends the session', async () => {
    const s = await session();
    await testPool().query('update users set deleted_at = now() where id = $1', [s.userId]);
    expect((await doRefresh(s.refreshToken)).status).toBe(401);
    expect((await familyRows(s.refreshToken)).every((r) => r.revoked_at !== null)).toBe(true);
    expect((await profile(s.accessToken)).status).toBe(401);
  });

  it('refuses unknown, malformed and missing refresh tokens without a 500', async () => {
    expect((await doRefresh('A'.repeat(43))).status).toBe(401);
    expect((await doRefresh("' or 1=1 --")).status).toBe(401);
    expect((await doRefresh('x'.repeat(257))).status).toBe(400);
    const missing = await call(refresh, 'POST', 'auth/refresh', { tenantId, body: {} });
    expect(missing.status).toBe(400);
    const noTenant = await call(refresh, 'POST', 'auth/refresh', { body: { refreshToken: 'A'.repeat(43) } });
    expect(noTenant.status).toBe(400);
  });

  it('ignores an (expired or bogus) Authorization header on refresh and logout', async () => {
    const s = await session();
    const r = await doRefresh(s.refreshToken, { authorization: 'Bearer not.a.jwt' });
    expect(r.status).toBe(200);
    expect((await doLogout(r.json.refreshToken, { authorization: 'Bearer not.a.jwt' })).status).toBe(204);
  });

  it('logs out: 204, the whole family revoked; an unknown token is also 204', async () => {
    const s = await session();
    const r = await doRefresh(s.refreshToken);
    const out = await doLogout(r.json.refreshToken);
    expect(out.status).toBe(204);
    expect(out.text).toBe('');
    expect((await doRefresh(r.json.refreshToken)).status).toBe(401);
    expect((await familyRows(s.refreshToken)).every((row) => row.revoked_at !== null)).toBe(true);
    expect((await doLogout('B'.repeat(43))).status).toBe(204);
  });

  describe('password change', () => {
    const change = (accessToken: string, body: unknown) =>
      call(changePassword, 'POST', 'auth/password', {
        headers: { authorization: `Bearer ${accessToken}` },
        body,
      });

    it('revokes every session and every earlier access token; the caller gets a fresh pair', async () => {
      const a = await session();
      const b = await loginUser(tenantId, a.email, STRONG_PASSWORD);
      // Access tokens carry whole seconds: make the change land in a later second than their `iat`.
      await new Promise((resolve) => setTimeout(resolve, 1100 - (Date.now() % 1000)));
      const res = await change(a.accessToken, {
        currentPassword: STRONG_PASSWORD,
        newPassword: 'a brand new passphrase',
      });
      expect(res.status).toBe(200);
      expect((await doRefresh(a.refreshToken)).status).toBe(401);
      expect((await doRefresh(b.json.refreshToken)).status).toBe(401);
      expect((await profile(a.accessToken)).status).toBe(401);
      expect((await profile(b.json.accessToken)).status).toBe(401);
      expect((await profile(res.json.accessToken)).status).toBe(200);
      expect((await doRefresh(res.json.refreshToken)).status).toBe(200);
      expect((await loginUser(tenantId, a.email, STRONG_PASSWORD)).status).toBe(401);
      expect((await loginUser(tenantId, a.email, 'a brand new passphrase')).status).toBe(200);
    });

    it('refuses a wrong current password with 403 and changes nothing', async () => {
      const s = await session();
      const res = await change(s.accessToken, {
        currentPassword: 'wrong password!!',
        newPassword: 'another passphrase',
      });
      expect(res.status).toBe(403);
      expect((await doRefresh(s.refreshToken)).status).toBe(200);
      expect((await loginUser(tenantId, s.email, STRONG_PASSWORD)).status).toBe(200);
    });

    it('applies the password policy to the new password', async () => {
      const s = await session();
      const res = await change(s.accessToken, { currentPassword: STRONG_PASSWORD, newPassword: 'short' });
      expect(res.status).toBe(400);
      expect(res.json.errors[0].field).toBe('body.newPassword');
    });

    it('needs a bearer token', async () => {
      const res = await call(changePassword, 'POST', 'auth/password', {
        body: { currentPassword: STRONG_PASSWORD, newPassword: 'another passphrase' },
      });
      expect(res.status).toBe(401);
    });
  });
});

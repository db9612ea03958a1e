import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeJwt } from 'jose';
import { register } from '../../../functions/auth.js';
import { closeRedis } from '../../../shared/cache/redis.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { closePasswordHasher, getPasswordHasher } from '../../../shared/services/auth/passwords.js';
import { closeTestPool, createTenant, testPool } from '../../fixtures/sample_data.js';
import { createUser } from '../../fixtures/users.js';
import { invoke } from '../../support/http.js';
import { STRONG_PASSWORD, freshIp, loginUser, registerUser, uniqueEmail } from './helpers.js';

describe('register and login', () => {
  let tenantId: string;

  beforeAll(async () => {
    tenantId = (await createTenant('Auth shop')).id;
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await closeOrms();
    await closeRedis();
    await closePasswordHasher();
    await closeTestPool();
  });

  it('registers a customer: 201 with id, email and name only; the password is bcrypt at cost 12', async () => {
    const res = await registerUser(tenantId, { phone: '+1 555 0100', address: '1 Main Street' });
    expect(res.status).toBe(201);
    expect(Object.keys(res.json).sort()).toEqual(['email', 'id', 'name']);
    expect(res.json).toMatchObject({ email: res.input.email, name: 'Test Person' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { rows } = await testPool().query(
      'select password_hash, roles, tenant_id from users where id = $1',
      [res.json.id],
    );
    expect(rows[0].password_hash).toMatch(/^\$2[ab]\$12\$/);
    expect(rows[0].roles).toEqual(['customer']);
    expect(rows[0].tenant_id).toBe(tenantId);
  });

  it('refuses a second account with the same email — also differently cased or full-width — with a bare 409', async () => {
    const email = uniqueEmail('dup');
    expect((await registerUser(tenantId, { email })).status).toBe(201);
    const fullWidth = [...email.toUpperCase()]
      .map((c) => (/[A-Z0-9]/.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c))
      .join('');
    for (const variant of [email, email.toUpperCase(), fullWidth]) {
      const res = await registerUser(tenantId, { email: variant, name: 'Someone Else' });
      expect(res.status).toBe(409);
      expect(res.json.detail).toBe('An account with this email already exists.');
      // Nothing about the existing account (id, name, date) in the answer.
      expect(Object.keys(res.json).sort()).toEqual([
        'correlationId',
        'detail',
        'instance',
        'status',
        'title',
        'type',
      ]);
    }
  });

  it('allows the same email in another tenant', async () => {
    const email = uniqueEmail('shared');
    const other = await createTenant('Second shop');
    const a = await registerUser(tenantId, { email });
    const b = await registerUser(other.id, { email });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.json.id).not.toBe(b.json.id);
  });

  it.each([
    ['11 characters', 'abcdefghijk', 'at least 12 characters'],
    ['73 ASCII bytes', 'a'.repeat(73), 'at most 72 bytes'],
    ['25 euro signs (25 characters, 75 bytes)', '€'.repeat(25), 'at most 72 bytes'],
  ])('refuses a password of %s with a clear 400', async (_label, password, message) => {
    const res = await registerUser(tenantId, { password });
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([expect.objectContaining({ field: 'body.password' })]);
    expect(res.json.errors[0].message).toContain(message);
  });

  it('counts characters, not UTF-16 units: 12 emoji (48 bytes) are a valid password', async () => {
    const password = '🔒'.repeat(12);
    const res = await registerUser(tenantId, { password });
    expect(res.status).toBe(201);
    expect((await loginUser(tenantId, res.input.email, password)).status).toBe(200);
  });

  it('never truncates: with a 72-byte password, the same password plus one byte is refused, not accepted', async () => {
    const password = 'p'.repeat(72);
    const reg = await registerUser(tenantId, { password });
    expect(reg.status).toBe(201);
    expect((await loginUser(tenantId, reg.input.email, password)).status).toBe(200);
    const longer = await loginUser(tenantId, reg.input.email, password + 'x');
    expect(longer.status).toBe(400);
    expect(longer.json.errors[0]).toMatchObject({ field: 'body.password' });
  });

  it('logs in: a bearer pair whose access token carries user, tenant and roles for 15 minutes', async () => {
    const reg = await registerUser(tenantId);
    const res = await loginUser(tenantId, reg.input.email, STRONG_PASSWORD);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      tokenType: 'Bearer',
      expiresIn: 900,
    });
    const claims = decodeJwt(res.json.accessToken);
    expect(claims).toMatchObject({ sub: reg.json.id, tid: tenantId, roles: ['customer'] });
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(claims.nbf).toBe(claims.iat);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('finds the account whatever the case of the email at login', async () => {
    const reg = await registerUser(tenantId, { email: uniqueEmail('Mixed.Case') });
    expect((await loginUser(tenantId, reg.input.email.toUpperCase(), STRONG_PASSWORD)).status).toBe(200);
  });

  it('answers an unknown email exactly like a wrong password, and spends a bcrypt comparison on it', async () => {
    const reg = await registerUser(tenantId);
    const hasher = getPasswordHasher();
    const dummy = vi.spyOn(hasher, 'verifyAgainstDummy');
    const unknown = await loginUser(tenantId, uniqueEmail('nobody'), STRONG_PASSWORD);
    expect(dummy).toHaveBeenCalledTimes(1);
    const wrong = await loginUser(tenantId, reg.input.email, 'not the right password');
    expect(dummy).toHaveBeenCalledTimes(1);
    dummy.mockRestore();
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    const strip = (body: Record<string, unknown>) => ({ ...body, correlationId: undefined });
    expect(strip(unknown.json)).toEqual(strip(wrong.json));
    expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
  });

  it('takes about as long for an unknown email as for a wrong password (interleaved medians)', async () => {
    const reg = await registerUser(tenantId);
    const unknownMs: number[] = [];
    const wrongMs: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      let t = performance.now();
      await loginUser(tenantId, uniqueEmail('nobody'), 'some password 123');
      unknownMs.push(performance.now() - t);
      t = performance.now();
      await loginUser(tenantId, reg.input.email, 'some password 123');
      wrongMs.push(performance.now() - t);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(unknownMs) / median(wrongMs);
    // A lookup miss without bcrypt would be ~100× faster; parallel test files make the clock noisy.
    expect(ratio).toBeGreaterThan(0.25);
    expect(ratio).toBeLessThan(4);
  });

  it('upgrades a hash made at a lower cost on the next successful login', async () => {
    const user = await createUser(tenantId, { password: 'legacy password 1234' });
    const before = await testPool().query('select password_hash from users where id = $1', [user.id]);
    expect(before.rows[0].password_hash).toMatch(/^\$2[ab]\$04\$/);
    expect((await loginUser(tenantId, user.email, 'legacy password 1234')).status).toBe(200);
    const after = await testPool().query('select password_hash from users where id = $1', [user.id]);
    expect(after.rows[0].password_hash).toMatch(/^\$2[ab]\$12\$/);
    expect((await loginUser(tenantId, user.email, 'legacy password 1234')).status).toBe(200);
  });

  it('refuses a login to a deleted account like an unknown one', async () => {
    const reg = await registerUser(tenantId);
    await testPool().query('update users set deleted_at = now() where id = $1', [reg.json.id]);
    const res = await loginUser(tenantId, reg.input.email, STRONG_PASSWORD);
    expect(res.status).toBe(401);
  });

  it('fails a login against a corrupt stored hash with 401 (logged), not 500', async () => {
    const user = await createUser(tenantId, { password: 'whatever password 1' });
    await testPool().query(`update users set password_hash = 'not-bcrypt' where id = $1`, [user.id]);
    expect((await loginUser(tenantId, user.email, 'whatever password 1')).status).toBe(401);
  });

  it('needs the tenant header for anonymous calls, and a known tenant', async () => {
    const body = { email: uniqueEmail(), password: STRONG_PASSWORD, name: 'X' };
    const noTenant = await invoke(register, { method: 'POST', body, headers: { 'x-client-ip': freshIp() } });
    expect(noTenant.status).toBe(400);
    const unknown = await invoke(register, {
      method: 'POST',
      body,
      headers: { 'x-tenant-id': '00000000-0000-4000-8000-000000000000' },
    });
    expect(unknown.status).toBe(404);
  });
});

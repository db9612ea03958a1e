import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import { createHmac } from 'node:crypto';
import { me, register } from '../../../functions/auth.js';
import { closeRedis } from '../../../shared/cache/redis.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { AccessTokenService } from '../../../shared/services/auth/access-token.js';
import { parseSigningKeys } from '../../../shared/services/auth/signing-keys.js';
import { closePasswordHasher } from '../../../shared/services/auth/passwords.js';
import { closeTestPool, createTenant, testPool } from '../../fixtures/sample_data.js';
import { invoke } from '../../support/http.js';
import { STRONG_PASSWORD, call, freshIp, loginUser, registerUser, uniqueEmail } from './helpers.js';

const ISSUER = process.env.JWT_ISSUER ?? 'ecommerce-api';
const AUDIENCE = process.env.JWT_AUDIENCE ?? 'ecommerce-api-clients';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('hostile input', () => {
  let tenantId: string;
  let userId: string;
  let kid: string;
  let key: Uint8Array;

  beforeAll(async () => {
    tenantId = (await createTenant('Hostile shop')).id;
    const reg = await registerUser(tenantId);
    userId = reg.json.id;
    const first = parseSigningKeys(process.env.JWT_SIGNING_KEYS!)[0]!;
    kid = first.kid;
    key = first.key;
  });
  afterAll(async () => {
    await closeOrms();
    await closeRedis();
    await closePasswordHasher();
    await closeTestPool();
  });

  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const claims = (overrides: Record<string, unknown> = {}) => ({
    sub: userId,
    tid: tenantId,
    roles: ['customer'],
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowSeconds(),
    nbf: nowSeconds(),
    exp: nowSeconds() + 900,
    ...overrides,
  });
  /** Signs header.payload with HMAC-SHA256 under the real key, whatever the header claims. */
  const hmacSign = (header: object, payload: object, secret: Uint8Array | string = key) => {
    const input = `${b64url(header)}.${b64url(payload)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  const profile = (token: string) => call(me, 'GET', 'me', { headers: { authorization: `Bearer ${token}` } });

  it('accepts a well-formed token (control case)', async () => {
    expect((await profile(hmacSign({ alg: 'HS256', kid, typ: 'JWT' }, claims()))).status).toBe(200);
  });

  describe('access tokens', () => {
    it('refuses alg "none" (with and without a signature)', async () => {
      const unsigned = `${b64url({ alg: 'none', kid, typ: 'JWT' })}.${b64url(claims())}.`;
      expect((await profile(unsigned)).status).toBe(401);
      expect((await profile(hmacSign({ alg: 'none', kid }, claims()))).status).toBe(401);
    });

    it('refuses an RS256 token, and HS/RS confusion (HMAC keyed with a public key PEM)', async () => {
      const { privateKey, publicKey } = await generateKeyPair('RS256');
      const rs = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
      expect((await profile(rs)).status).toBe(401);
      const pem = await exportSPKI(publicKey);
      expect(await profile(hmacSign({ alg: 'HS256', kid }, claims(), pem))).toMatchObject({ status: 401 });
      expect(await profile(hmacSign({ alg: 'RS256', kid }, claims()))).toMatchObject({ status: 401 });
    });

    it('refuses another HMAC algorithm even with the right key (the algorithm is pinned)', async () => {
      const hs512 = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS512', kid }).sign(key);
      expect((await profile(hs512)).status).toBe(401);
    });

    it('refuses a tampered payload and a tampered signature', async () => {
      const good = hmacSign({ alg: 'HS256', kid }, claims());
      const [h, , s] = good.split('.');
      const escalated = `${h}.${b64url(claims({ roles: ['admin'] }))}.${s}`;
      expect((await profile(escalated)).status).toBe(401);
      const flipped = good.slice(0, -3) + (good.endsWith('AAA') ? 'BBB' : 'AAA');
      expect((await profile(flipped)).status).toBe(401);
    });

    it('refuses expired tokens and tokens not yet valid, beyond the 5 s tolerance', async () => {
      const expired = hmacSign(
        { alg: 'HS256', kid },
        claims({ iat: nowSeconds() - 1000, nbf: nowSeconds() - 1000, exp: nowSeconds() - 60 }),
      );
      const res = await profile(expired);
      expect(res.status).toBe(401);
      expect(res.json.detail).toBe('The access token has expired.');
      const future = hmacSign({ alg: 'HS256', kid }, claims({ nbf: nowSeconds() + 120 }));
      expect((await profile(future)).status).toBe(401);
    });

    it('refuses a wrong issuer, a wrong audience, an unknown key id and missing claims', async () => {
      expect((await profile(hmacSign({ alg: 'HS256', kid }, claims({ iss: 'someone-else' })))).status).toBe(
        401,
      );
      expect((await profile(hmacSign({ alg: 'HS256', kid }, claims({ aud: 'another-app' })))).status).toBe(
        401,
      );
      expect(await profile(hmacSign({ alg: 'HS256', kid: 'unknown' }, claims()))).toMatchObject({
        status: 401,
      });
      for (const missing of ['sub', 'tid', 'exp', 'roles']) {
        const c: Record<string, unknown> = claims();
        delete c[missing];
        expect((await profile(hmacSign({ alg: 'HS256', kid }, c))).status, missing).toBe(401);
      }
      expect((await profile(hmacSign({ alg: 'HS256', kid }, claims({ roles: ['superuser'] })))).status).toBe(
        401,
      );
    });

    it('refuses a token signed by another issuer’s service with other keys', async () => {
      const other = new AccessTokenService({
        issuer: ISSUER,
        audience: AUDIENCE,
        signingKeys: `${kid}:${Buffer.alloc(32, 7).toString('base64url')}`,
      });
      expect(await profile(await other.issue({ userId, tenantId, roles: ['customer'] }))).toMatchObject({
        status: 401,
      });
    });

    it('refuses the token of a deleted user at once (not after expiry)', async () => {
      const reg = await registerUser(tenantId);
      const session = await loginUser(tenantId, reg.input.email, STRONG_PASSWORD);
      expect((await profile(session.json.accessToken)).status).toBe(200);
      await testPool().query('update users set deleted_at = now() where id = $1', [reg.json.id]);
      expect((await profile(session.json.accessToken)).status).toBe(401);
    });

    it('refuses malformed Authorization headers', async () => {
      for (const header of ['Bearer', 'Basic dXNlcjpwYXNz', 'Bearer a b', `Bearer ${'a'.repeat(5000)}`]) {
        const res = await call(me, 'GET', 'me', { headers: { authorization: header } });
        expect(res.status, header).toBe(401);
      }
    });
  });

  describe('request bodies', () => {
    const post = (options: { rawBody?: string | Buffer; body?: unknown; contentType?: string }) =>
      invoke(register, {
        method: 'POST',
        url: 'http://localhost/api/auth/register',
        headers: {
          'x-tenant-id': tenantId,
          'x-client-ip': freshIp(),
          ...(options.contentType ? { 'content-type': options.contentType } : {}),
        },
        ...(options.rawBody !== undefined ? { rawBody: options.rawBody } : { body: options.body }),
      });

    it.each([
      [
        'an oversized body',
        { rawBody: JSON.stringify({ name: 'x'.repeat(1_100_000) }), contentType: 'application/json' },
        413,
      ],
      ['malformed JSON', { rawBody: '{"email": "a@b.c", ', contentType: 'application/json' }, 400],
      ['a JSON array', { rawBody: '[]', contentType: 'application/json' }, 400],
      ['a form body', { rawBody: 'email=a@b.c', contentType: 'application/x-www-form-urlencoded' }, 415],
      [
        'invalid UTF-8',
        { rawBody: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), contentType: 'application/json' },
        400,
      ],
      ['wrong types', { body: { email: 42, password: ['x'], name: {} } }, 400],
      ['an empty body', { rawBody: '', contentType: 'application/json' }, 400],
    ])('answers %s with a problem, never a 500', async (_label, options, status) => {
      const res = await post(options);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    });

    it('refuses unknown fields such as roles (no mass assignment) and creates nothing', async () => {
      const email = uniqueEmail('sneaky');
      const res = await post({
        body: { email, password: STRONG_PASSWORD, name: 'Sneaky', roles: ['admin'] },
      });
      expect(res.status).toBe(400);
      expect(await loginUser(tenantId, email, STRONG_PASSWORD)).toMatchObject({ status: 401 });
    });

    it.each([
      ['a NUL character', 'bad\u0000name'],
      ['a lone surrogate', 'bad\ud800name'],
      ['only whitespace', '   '],
      ['201 characters', 'n'.repeat(201)],
    ])('refuses a name with %s with a 400 (never a 500)', async (_label, name) => {
      const res = await post({ body: { email: uniqueEmail(), password: STRONG_PASSWORD, name } });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      // A lone surrogate is refused while the JSON is parsed (it is not Unicode), before field validation.
      if (res.json.errors) expect(res.json.errors[0].field).toBe('body.name');
    });

    it.each([
      ['SQL', "Robert'); DROP TABLE users;--"],
      ['SQL, quoted', `' OR '1'='1' --`],
      ['backslashes and format strings', '\\x27 \\\\ %s %n ${name} {{7*7}}'],
      ['scripts and bidi controls', '<script>alert(1)</script> \u202egnp.exe'],
      ['unicode', 'Zoë Ångström 🚀 名前 עברית ﷽'],
      ['combining marks (not normalised)', 'e\u0301 vs \u00e9'],
    ])('stores and returns %s in a name verbatim', async (_label, name) => {
      const email = uniqueEmail();
      const res = await post({ body: { email, password: STRONG_PASSWORD, name, address: name } });
      expect(res.status).toBe(201);
      expect(res.json.name).toBe(name);
      const { rows } = await testPool().query('select name from users where id = $1', [res.json.id]);
      expect(rows[0].name).toBe(name);
      const session = await loginUser(tenantId, email, STRONG_PASSWORD);
      const mine = await profile(session.json.accessToken);
      expect(mine.json.name).toBe(name);
      expect(mine.json.address).toBe(name);
      const { rows: tables } = await testPool().query(`select to_regclass('public.users') as t`);
      expect(tables[0].t).toBe('users');
    });

    it('accepts SQL-looking and international email addresses, and logs in with them', async () => {
      for (const email of [`o'brien+${Date.now()}@example.com`, `jöhn.${Date.now()}@exämple.de`]) {
        const res = await post({ body: { email, password: STRONG_PASSWORD, name: 'Q' } });
        expect(res.status, email).toBe(201);
        expect(res.json.email).toBe(email);
        expect((await loginUser(tenantId, email, STRONG_PASSWORD)).status).toBe(200);
      }
    });

    it('refuses an SQL-looking login without a 500', async () => {
      const res = await loginUser(tenantId, `' or 1=1 --`, `' or '1'='1`);
      expect(res.status).toBe(401);
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { me } from '../../../functions/auth.js';
import { closeRedis } from '../../../shared/cache/redis.js';
import { emailBlindIndex, normaliseEmail } from '../../../shared/crypto/blind-index.js';
import { FieldCipher } from '../../../shared/crypto/field-cipher.js';
import { closeOrms, getOrm } from '../../../shared/db/orm.js';
import { closePasswordHasher } from '../../../shared/services/auth/passwords.js';
import { reencryptUserPii, type ReencryptProgress } from '../../../shared/services/auth/pii-reencrypt.js';
import { closeTestPool, createTenant, testPool } from '../../fixtures/sample_data.js';
import { testPii } from '../../fixtures/users.js';
import { logs } from '../../support/http.js';
import { STRONG_PASSWORD, call, loginUser, registerUser, uniqueEmail } from './helpers.js';

const newFernetKey = (): string => randomBytes(32).toString('base64url') + '=';

describe('PII at rest', () => {
  let tenantId: string;

  beforeAll(async () => {
    tenantId = (await createTenant('PII shop')).id;
  });
  afterAll(async () => {
    await closeOrms();
    await closeRedis();
    await closePasswordHasher();
    await closeTestPool();
  });

  const person = () => ({
    email: uniqueEmail('Private.Person'),
    phone: `+44 20 7946 ${Math.floor(1000 + Math.random() * 8999)}`,
    address: `${Math.floor(Math.random() * 900) + 100} Secret Lane, Hidden Town`,
  });

  it('stores no plaintext email, phone or address anywhere in the user’s rows', async () => {
    const pii = person();
    const reg = await registerUser(tenantId, pii);
    expect(reg.status).toBe(201);
    await loginUser(tenantId, pii.email, STRONG_PASSWORD);
    const { rows } = await testPool().query(
      `select row_to_json(u)::text as row from users u where id = $1
       union all select row_to_json(t)::text from refresh_tokens t where user_id = $1`,
      [reg.json.id],
    );
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const dump = rows
      .map((r) => r.row as string)
      .join('\n')
      .toLowerCase();
    for (const secret of [
      pii.email,
      pii.email.split('@')[0]!,
      pii.phone,
      pii.phone.replace(/\s/g, ''),
      pii.address,
    ]) {
      expect(dump).not.toContain(secret.toLowerCase());
    }
  });

  it('encrypts with Fernet under the first key and indexes the email by HMAC of its normalised form', async () => {
    const pii = person();
    const reg = await registerUser(tenantId, pii);
    const { rows } = await testPool().query(
      'select email_enc, email_bidx, phone_enc, address_enc from users where id = $1',
      [reg.json.id],
    );
    const { cipher, indexKey } = testPii();
    const row = rows[0];
    expect(row.email_enc.startsWith('gAAAAA')).toBe(true); // Fernet version byte 0x80
    expect(cipher.decrypt(row.email_enc)).toBe(pii.email); // verbatim, not normalised
    expect(cipher.decrypt(row.phone_enc)).toBe(pii.phone);
    expect(cipher.decrypt(row.address_enc)).toBe(pii.address);
    expect(cipher.needsRotation(row.email_enc)).toBe(false);
    expect(row.email_bidx).toBe(emailBlindIndex(indexKey, normaliseEmail(pii.email)));
    expect(row.email_bidx).toMatch(/^[0-9a-f]{64}$/);
  });

  it('shows the decrypted PII to its owner on GET /me, and only theirs', async () => {
    const alice = person();
    const bob = person();
    const a = await registerUser(tenantId, { ...alice, name: 'Alice' });
    await registerUser(tenantId, { ...bob, name: 'Bob' });
    const session = await loginUser(tenantId, alice.email, STRONG_PASSWORD);
    const res = await call(me, 'GET', 'me', {
      headers: { authorization: `Bearer ${session.json.accessToken}` },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      id: a.json.id,
      email: alice.email,
      name: 'Alice',
      phone: alice.phone,
      address: alice.address,
      roles: ['customer'],
      createdAt: expect.any(String),
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.text).not.toContain(bob.email);
  });

  it('returns null for PII that was not given', async () => {
    const reg = await registerUser(tenantId);
    const session = await loginUser(tenantId, reg.input.email, STRONG_PASSWORD);
    const res = await call(me, 'GET', 'me', {
      headers: { authorization: `Bearer ${session.json.accessToken}` },
    });
    expect(res.json).toMatchObject({ phone: null, address: null });
    const { rows } = await testPool().query('select phone_enc, address_enc from users where id = $1', [
      reg.json.id,
    ]);
    expect(rows[0]).toEqual({ phone_enc: null, address_enc: null });
  });

  it('writes no PII or password to the invocation logs (register, duplicate, login ok/failed, /me)', async () => {
    const pii = person();
    logs.length = 0;
    await registerUser(tenantId, pii);
    await registerUser(tenantId, pii); // 409
    await loginUser(tenantId, pii.email, 'a wrong password');
    const unknownEmail = uniqueEmail('unknown');
    await loginUser(tenantId, unknownEmail, 'a wrong password');
    const session = await loginUser(tenantId, pii.email, STRONG_PASSWORD);
    await call(me, 'GET', 'me', { headers: { authorization: `Bearer ${session.json.accessToken}` } });
    const text = logs.join('\n').toLowerCase();
    expect(logs.length).toBeGreaterThan(0); // the flows do log — just not PII
    for (const secret of [
      pii.email,
      pii.email.split('@')[0]!,
      pii.phone,
      pii.address,
      // The failed login of an address nobody registered: no user to protect, still PII.
      unknownEmail,
      unknownEmail.split('@')[0]!,
      STRONG_PASSWORD,
      'a wrong password',
      session.json.refreshToken,
      session.json.accessToken,
      // A token's signature alone is enough to recognise it in a log.
      session.json.accessToken.split('.')[2]!,
    ]) {
      expect(text).not.toContain(secret.toLowerCase());
    }
  });

  describe('re-encryption under a new first key (pii:reencrypt)', () => {
    it('rewrites rows not under the first key, in batches, keeping the plaintext; skips the rest; reports undecryptable rows', async () => {
      const currentKeys = process.env.FERNET_KEYS!;
      const oldKey = newFernetKey();
      const old = new FieldCipher(oldKey);
      const tenant = await createTenant('Rotation shop');
      const { indexKey } = testPii();

      // Three rows written under the old key (one with null phone/address), one already current, one
      // under a key nobody has any more.
      const plain = Array.from({ length: 3 }, (_, i) => ({
        id: randomUUID(),
        ...person(),
        ...(i === 2 ? { phone: null, address: null } : {}),
      }));
      const insert = (
        id: string,
        email: string,
        enc: FieldCipher,
        phone: string | null,
        address: string | null,
      ) =>
        testPool().query(
          `insert into users (id, tenant_id, email_enc, email_bidx, phone_enc, address_enc, name, password_hash)
           values ($1, $2, $3, $4, $5, $6, 'R', 'x')`,
          [
            id,
            tenant.id,
            enc.encrypt(email),
            emailBlindIndex(indexKey, email),
            enc.encrypt(phone),
            enc.encrypt(address),
          ],
        );
      for (const p of plain) await insert(p.id, p.email, old, p.phone, p.address);
      const current = { id: randomUUID(), ...person() };
      await insert(current.id, current.email, testPii().cipher, current.phone, current.address);
      const lost = { id: randomUUID(), ...person() };
      await insert(lost.id, lost.email, new FieldCipher(newFernetKey()), lost.phone, lost.address);

      // Deployed key list: the current key first, the old one kept for decryption.
      const cipher = new FieldCipher(`${currentKeys},${oldKey}`);
      const before = await testPool().query('select id, email_enc from users where id = $1', [current.id]);
      const progress: ReencryptProgress[] = [];
      const em = (await getOrm()).em.fork({ clear: true });
      const report = await reencryptUserPii({
        em,
        cipher,
        batchSize: 2,
        onProgress: (p) => progress.push(p),
      });

      expect(report.rowsRotated).toBeGreaterThanOrEqual(3);
      expect(report.rowsFailed).toBeGreaterThanOrEqual(1);
      expect(report.rowsScanned).toBeGreaterThanOrEqual(5);
      expect(progress.length).toBeGreaterThan(1);
      expect(progress.at(-1)).toEqual(report);

      const { rows } = await testPool().query(
        'select id, email_enc, phone_enc, address_enc from users where tenant_id = $1',
        [tenant.id],
      );
      const byId = new Map(rows.map((r) => [r.id as string, r]));
      for (const p of plain) {
        const row = byId.get(p.id)!;
        for (const column of ['email_enc', 'phone_enc', 'address_enc'])
          expect(cipher.needsRotation(row[column])).toBe(false);
        expect(cipher.decrypt(row.email_enc)).toBe(p.email);
        expect(cipher.decrypt(row.phone_enc)).toBe(p.phone);
        expect(cipher.decrypt(row.address_enc)).toBe(p.address);
        // Readable with the current key alone: the old key can now be dropped.
        expect(new FieldCipher(currentKeys).decrypt(row.email_enc)).toBe(p.email);
      }
      // Already current: untouched (same token, not re-encrypted needlessly).
      expect(byId.get(current.id)!.email_enc).toBe(before.rows[0].email_enc);
      // Undecryptable: left as it was.
      expect(() => cipher.decrypt(byId.get(lost.id)!.email_enc)).toThrow();

      // A second run finds nothing left to do in this tenant.
      const again = await reencryptUserPii({ em, cipher, batchSize: 2 });
      const after = await testPool().query(
        'select id, email_enc from users where tenant_id = $1 order by id',
        [tenant.id],
      );
      expect(after.rows).toEqual(
        [...byId.values()]
          .map((r) => ({ id: r.id, email_enc: r.email_enc }))
          .sort((x, y) => (x.id < y.id ? -1 : 1)),
      );
      expect(again.rowsFailed).toBeGreaterThanOrEqual(1);
    });
  });
});

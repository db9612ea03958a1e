import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { FieldCipher } from '../../../shared/crypto/field-cipher.js';
import { closeOrms, getOrm } from '../../../shared/db/orm.js';
import { reencryptOrderAddresses } from '../../../shared/services/orders/address-reencrypt.js';
import { closeTestPool, createTenant, testPool } from '../../fixtures/sample_data.js';
import { createUser } from '../../fixtures/users.js';

const newFernetKey = (): string => randomBytes(32).toString('base64url') + '=';

afterAll(async () => {
  await closeOrms();
  await closeTestPool();
});

describe('shipping addresses under key rotation (npm run pii:reencrypt)', () => {
  it('re-encrypts every address under the first key, keeps current and unreadable ones, and is idempotent', async () => {
    const tenant = await createTenant('Address rotation');
    const user = await createUser(tenant.id);
    const oldKey = newFernetKey();
    // The run's own keys stay first, as in a deployment: every other test's rows are already current
    // and are never rewritten by this run.
    const currentKey = process.env.FERNET_KEYS!;
    const insert = async (address: string | null, cipher: FieldCipher | null): Promise<string> => {
      const id = randomUUID();
      await testPool().query(
        `insert into orders (id, tenant_id, user_id, status, total_cents, currency, idempotency_key, request_hash,
                             payment_method_id, shipping_address_enc)
         values ($1, $2, $3, 'confirmed', 1000, 'USD', $4, 'h', 'pm_card_visa', $5)`,
        [id, tenant.id, user.id, randomUUID(), address === null ? null : cipher!.encrypt(address)],
      );
      return id;
    };
    const addresses = ['{"city":"London"}', '{"city":"Paris"}', '{"city":"Oslo"}'];
    const old = await Promise.all(addresses.map((a) => insert(a, new FieldCipher(oldKey))));
    const current = await insert('{"city":"Rome"}', new FieldCipher(currentKey));
    const lost = await insert('{"city":"Lost"}', new FieldCipher(newFernetKey()));
    await insert(null, null);
    const token = async (id: string): Promise<string> =>
      (await testPool().query('select shipping_address_enc as t from orders where id = $1', [id])).rows[0].t;
    const currentBefore = await token(current);
    const lostBefore = await token(lost);

    const cipher = new FieldCipher(`${currentKey},${oldKey}`);
    const em = (await getOrm()).em.fork({ clear: true });
    const report = await reencryptOrderAddresses({ em, cipher, batchSize: 2 });
    expect(report.rowsRotated).toBeGreaterThanOrEqual(3);
    expect(report.rowsFailed).toBeGreaterThanOrEqual(1);

    const currentOnly = new FieldCipher(currentKey);
    for (const [i, id] of old.entries()) expect(currentOnly.decrypt(await token(id))).toBe(addresses[i]);
    // Already under the first key: the same token, not re-encrypted needlessly; unreadable: untouched.
    expect(await token(current)).toBe(currentBefore);
    expect(await token(lost)).toBe(lostBefore);

    const tokensAfter = await Promise.all(old.map(token));
    const again = await reencryptOrderAddresses({ em, cipher, batchSize: 2 });
    expect(again.rowsRotated).toBe(0);
    expect(await Promise.all(old.map(token))).toEqual(tokensAfter);
  });
});

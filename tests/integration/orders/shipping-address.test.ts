import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { checkout } from '../../../functions/checkout.js';
import { setOrchestrationClientForTests } from '../../../functions/checkout/durable-client.js';
import { getOrder, listOrders } from '../../../functions/orders.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { invoke } from '../../support/http.js';
import { SAMPLE_ADDRESS } from '../../fixtures/address.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../../fixtures/sample_data.js';
import { authHeaders, createUser, testPii } from '../../fixtures/users.js';
import { fillCart, stubClient } from '../checkout/helpers.js';

let tenantId: string;
let productId: string;

beforeAll(async () => {
  tenantId = (await createTenant('Address shop')).id;
  productId = (await createProduct(tenantId, { stock: 100 })).id;
  setOrchestrationClientForTests(() => stubClient());
});

afterAll(async () => {
  setOrchestrationClientForTests(undefined);
  await closeOrms();
  await closeTestPool();
});

async function shopper(): Promise<{ id: string; headers: Record<string, string> }> {
  const user = await createUser(tenantId);
  await fillCart(tenantId, user.id, [{ productId, quantity: 1 }]);
  return { id: user.id, headers: await authHeaders(user) };
}

const post = (headers: Record<string, string>, body: unknown, key = randomUUID()) =>
  invoke(checkout, {
    method: 'POST',
    url: 'http://localhost/api/checkout',
    headers: { ...headers, 'idempotency-key': key },
    body,
  });

describe('the shipping address at checkout', () => {
  it('is stored encrypted on the order and shown to its owner, exactly as given', async () => {
    const me = await shopper();
    const address = {
      ...SAMPLE_ADDRESS,
      line2: 'Flat 3 — über dem Café',
      region: 'Greater London',
      phone: '+44 20 7946 0000',
    };
    const res = await post(me.headers, { paymentMethodId: 'pm_card_visa', shippingAddress: address });
    expect(res.status, res.text).toBe(202);
    const orderId = res.json.orderId as string;

    const { rows } = await testPool().query<{ shipping_address_enc: string }>(
      'select shipping_address_enc from orders where id = $1',
      [orderId],
    );
    const stored = rows[0]!.shipping_address_enc;
    expect(stored).not.toContain('Lovelace');
    expect(stored).not.toContain('London');
    expect(JSON.parse(testPii().cipher.decrypt(stored))).toEqual(address);

    const one = await invoke(getOrder, {
      url: `http://localhost/api/orders/${orderId}`,
      headers: me.headers,
      params: { id: orderId },
    });
    expect(one.json.shippingAddress).toEqual(address);
    const page = await invoke(listOrders, { url: 'http://localhost/api/orders', headers: me.headers });
    expect(page.json.items[0].shippingAddress).toEqual(address);
  });

  it('the same Idempotency-Key with another address is a 422, not a silent first answer', async () => {
    const me = await shopper();
    const key = randomUUID();
    expect(
      (await post(me.headers, { paymentMethodId: 'pm_card_visa', shippingAddress: SAMPLE_ADDRESS }, key))
        .status,
    ).toBe(202);
    const moved = { ...SAMPLE_ADDRESS, line1: '1 Other Street' };
    expect(
      (await post(me.headers, { paymentMethodId: 'pm_card_visa', shippingAddress: moved }, key)).status,
    ).toBe(422);
  });

  it.each([
    ['missing', undefined],
    ['a withdrawn country code', { ...SAMPLE_ADDRESS, country: 'UK' }],
    ['a lower-case country', { ...SAMPLE_ADDRESS, country: 'gb' }],
    ['an unassigned country', { ...SAMPLE_ADDRESS, country: 'ZZ' }],
    ['a control character', { ...SAMPLE_ADDRESS, line1: '12 St James\u0000 Square' }],
    ['a line break', { ...SAMPLE_ADDRESS, city: 'London\nBcc: x@example.test' }],
    ['a bidi override', { ...SAMPLE_ADDRESS, name: 'Ada \u202eecalevoL' }],
    ['a blank name', { ...SAMPLE_ADDRESS, name: '   ' }],
    ['an overlong line', { ...SAMPLE_ADDRESS, line1: 'x'.repeat(201) }],
    ['an overlong postal code', { ...SAMPLE_ADDRESS, postalCode: '1'.repeat(21) }],
    ['no postal code', { ...SAMPLE_ADDRESS, postalCode: undefined }],
    ['an unknown field', { ...SAMPLE_ADDRESS, floor: 3 }],
    ['a phone with letters', { ...SAMPLE_ADDRESS, phone: 'call me' }],
  ])('%s is a 400 problem naming the field, and creates no order', async (_case, shippingAddress) => {
    const me = await shopper();
    const res = await post(me.headers, { paymentMethodId: 'pm_card_visa', shippingAddress });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.json.errors.some((e: { field: string }) => e.field.startsWith('body.shippingAddress'))).toBe(
      true,
    );
    const { rows } = await testPool().query('select 1 from orders where user_id = $1', [me.id]);
    expect(rows).toHaveLength(0);
  });
});

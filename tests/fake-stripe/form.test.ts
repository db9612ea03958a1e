// Stripe's bracketed form encoding, decoded the way the fake's endpoints read parameters.
import { describe, expect, it } from 'vitest';
import { canonicalJson, decodeStripeForm, mergeMetadata, Params } from '../../infra/fake-stripe/form.js';
import { StripeApiError } from '../../infra/fake-stripe/errors.js';

describe('decodeStripeForm', () => {
  it('decodes nested objects and indexed arrays as stripe-node writes them', () => {
    const body =
      'amount=2599&currency=usd&metadata[order_id]=ord%201&metadata[tenant_id]=t%2B1' +
      '&automatic_payment_methods[enabled]=true&expand[0]=latest_charge&expand[1]=payment_method' +
      '&payment_method_options[card][request_three_d_secure]=any';
    expect(decodeStripeForm(body)).toEqual({
      amount: '2599',
      currency: 'usd',
      metadata: { order_id: 'ord 1', tenant_id: 't+1' },
      automatic_payment_methods: { enabled: 'true' },
      expand: ['latest_charge', 'payment_method'],
      payment_method_options: { card: { request_three_d_secure: 'any' } },
    });
  });

  it('accepts percent-encoded brackets and curl-style a[]= appends', () => {
    expect(decodeStripeForm('expand%5B%5D=a&expand%5B%5D=b&m%5Bk%5D=v')).toEqual({
      expand: ['a', 'b'],
      m: { k: 'v' },
    });
  });

  it('keeps arrays of objects', () => {
    expect(decodeStripeForm('items[0][price]=p1&items[0][qty]=2&items[1][price]=p2')).toEqual({
      items: [{ price: 'p1', qty: '2' }, { price: 'p2' }],
    });
  });

  it('ignores prototype-polluting keys and treats malformed brackets as flat keys', () => {
    const out = decodeStripeForm('__proto__[x]=1&a[constructor][y]=2&b[c]d]=3');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(out).toEqual({ 'b[c]d]': '3' });
  });
});

describe('Params', () => {
  it('reads typed values and names the offending parameter on error', () => {
    expect.assertions(5);
    const p = new Params(decodeStripeForm('amount=12x&confirm=yes&metadata[k]='));
    const named = (param: string) =>
      expect.objectContaining({ body: expect.objectContaining({ param }) }) as unknown as Error;
    expect(() => p.integer('amount')).toThrow(StripeApiError);
    expect(() => p.integer('amount')).toThrow(named('amount'));
    expect(() => p.boolean('confirm')).toThrow(StripeApiError);
    expect(() => p.boolean('confirm')).toThrow(named('confirm'));
    expect(p.metadata()).toEqual({ k: null });
  });

  it('metadata updates: empty value deletes a key, empty metadata clears all', () => {
    expect(mergeMetadata({ a: '1', b: '2' }, { a: null, c: '3' })).toEqual({ b: '2', c: '3' });
    expect(mergeMetadata({ a: '1' }, new Params(decodeStripeForm('metadata=')).metadata())).toEqual({});
  });
});

describe('canonicalJson', () => {
  it('is insensitive to key order, sensitive to values and array order', () => {
    expect(canonicalJson({ a: '1', b: { c: '2', d: '3' } })).toBe(
      canonicalJson({ b: { d: '3', c: '2' }, a: '1' }),
    );
    expect(canonicalJson({ a: ['1', '2'] })).not.toBe(canonicalJson({ a: ['2', '1'] }));
  });
});

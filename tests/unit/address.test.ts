import { describe, expect, it } from 'vitest';
import { ISO_3166_ALPHA2, ShippingAddress, canonicalAddressJson } from '../../shared/schemas/address.js';

describe('ISO 3166-1 alpha-2', () => {
  it('holds the 249 assigned codes, each a region the runtime’s CLDR data names', () => {
    expect(ISO_3166_ALPHA2.size).toBe(249);
    const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
    for (const code of ISO_3166_ALPHA2) expect(names.of(code), code).toBeTruthy();
    for (const code of ['UK', 'EU', 'SU', 'YU', 'XK', 'ZZ', 'AN'])
      expect(ISO_3166_ALPHA2.has(code), code).toBe(false);
  });
});

describe('canonicalAddressJson', () => {
  it('does not depend on key order and leaves absent fields out', () => {
    const a = ShippingAddress.parse({ country: 'DE', name: 'N', line1: 'L', city: 'C', postalCode: '1' });
    const b = ShippingAddress.parse({ name: 'N', postalCode: '1', city: 'C', line1: 'L', country: 'DE' });
    expect(canonicalAddressJson(a)).toBe(canonicalAddressJson(b));
    expect(JSON.parse(canonicalAddressJson(a))).toEqual({
      name: 'N',
      line1: 'L',
      city: 'C',
      postalCode: '1',
      country: 'DE',
    });
  });
});

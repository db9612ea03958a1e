import { describe, expect, it } from 'vitest';
import type { ProductDetailRow } from '../../../shared/repositories/product-repository.js';
import { productVersionOf, toProduct } from '../../../shared/services/catalog/product-mapper.js';

const row = (over: Partial<ProductDetailRow> = {}): ProductDetailRow => ({
  id: '0b9f4a52-9d5f-4b8e-9a51-6d2d1c1f7e11',
  sku: 'MUG-1',
  name: 'Mug',
  description: '',
  price_cents: '1800',
  currency: 'EUR',
  rating_count: 0,
  rating_sum: 0,
  created_key: '2026-01-02T03:04:05.123456Z',
  available: 4,
  version: 7,
  ...over,
});

describe('a product detail’s version, read off its JSON text', () => {
  it('is what toProduct wrote, whatever the product’s text says', () => {
    expect(productVersionOf(JSON.stringify(toProduct(row())))).toBe(7);
    // Field values cannot fake it: only the first bytes count, and they are always the version.
    const tricky = row({ version: 2, name: '{"version":9,', description: '"version":9,' });
    expect(productVersionOf(JSON.stringify(toProduct(tricky)))).toBe(2);
    expect(productVersionOf(JSON.stringify(toProduct(row({ version: 2_147_483_647 }))))).toBe(2_147_483_647);
  });

  it('is absent for other text: a cached 404, or an entry stored before products had versions', () => {
    expect(productVersionOf('null')).toBeUndefined();
    const { version: _omitted, ...older } = toProduct(row());
    expect(productVersionOf(JSON.stringify(older))).toBeUndefined();
    expect(productVersionOf('{"version":01,')).toBeUndefined();
  });
});

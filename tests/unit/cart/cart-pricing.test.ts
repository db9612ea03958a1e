import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadRequestException } from '../../../shared/errors/index.js';
import { priceCart, type CartLineRow } from '../../../shared/services/cart/cart-pricing.js';

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

function line(overrides: Partial<CartLineRow> = {}): fc.Arbitrary<CartLineRow> {
  return fc.record({
    productId: fc.uuid(),
    name: fc.string({ maxLength: 20 }),
    quantity: fc.integer({ min: 1, max: 99 }),
    unitPriceCents: fc.integer({ min: 0, max: 100_000_000_000 }),
    currency: fc.constant('USD'),
    active: fc.constant(true),
    ...Object.fromEntries(Object.entries(overrides).map(([k, v]) => [k, fc.constant(v)])),
  }) as fc.Arbitrary<CartLineRow>;
}

// Prices from zero up to the largest safe integer, biased towards both ends, so some carts overflow.
const anyPrice = fc.oneof(
  fc.integer({ min: 0, max: 1_000_000 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: Math.floor(Number.MAX_SAFE_INTEGER / 99), max: Number.MAX_SAFE_INTEGER }),
);

describe('cart totals (property-based)', () => {
  it('line totals are price × quantity and the total is their sum, exactly, for realistic prices', () => {
    fc.assert(
      fc.property(fc.array(line(), { maxLength: 50 }), fc.nat({ max: 1_000_000 }), (rows, version) => {
        const cart = priceCart(rows, version);
        expect(cart.lines).toHaveLength(rows.length);
        cart.lines.forEach((l, i) => {
          expect(BigInt(l.lineTotalCents)).toBe(BigInt(rows[i]!.unitPriceCents) * BigInt(rows[i]!.quantity));
        });
        const exact = rows.reduce((sum, r) => sum + BigInt(r.unitPriceCents) * BigInt(r.quantity), 0n);
        expect(BigInt(cart.totalCents)).toBe(exact);
        expect(cart.version).toBe(version);
        expect(cart.currency).toBe(rows.length > 0 ? 'USD' : null);
      }),
      { numRuns: 500 },
    );
  });

  it('an amount beyond exact integers is an error, never a wrong number', () => {
    let overflowed = 0;
    let exactCarts = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            unitPriceCents: anyPrice,
            quantity: fc.integer({ min: 1, max: 99 }),
            productId: fc.uuid(),
          }),
          { minLength: 1, maxLength: 10 },
        ),
        (parts) => {
          const rows = parts.map((p) => ({ ...p, name: 'x', currency: 'EUR', active: true }));
          const exactLines = rows.map((r) => BigInt(r.unitPriceCents) * BigInt(r.quantity));
          let running = 0n;
          let fits = true;
          for (const amount of exactLines) {
            if (amount > MAX) fits = false;
            running += amount;
            if (running > MAX) fits = false;
          }
          if (fits) {
            exactCarts++;
            expect(BigInt(priceCart(rows, 1).totalCents)).toBe(running);
          } else {
            overflowed++;
            expect(() => priceCart(rows, 1)).toThrow(BadRequestException);
          }
        },
      ),
      { numRuns: 1000 },
    );
    // Both branches must actually have been exercised for the property to mean anything.
    expect(overflowed).toBeGreaterThan(50);
    expect(exactCarts).toBeGreaterThan(50);
  });

  it('lines that cannot be bought (archived, or re-priced into another currency) are left out of the total', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            productId: fc.uuid(),
            name: fc.constant('p'),
            quantity: fc.integer({ min: 1, max: 99 }),
            unitPriceCents: fc.integer({ min: 0, max: 1_000_000 }),
            currency: fc.constantFrom('USD', 'EUR'),
            active: fc.boolean(),
          }),
          { maxLength: 20 },
        ),
        (rows) => {
          const cart = priceCart(rows, 3);
          const currency = rows.find((r) => r.active)?.currency ?? null;
          const kept = rows.filter((r) => r.active && r.currency === currency);
          expect(cart.currency).toBe(currency);
          expect(cart.lines.map((l) => l.productId)).toEqual(kept.map((r) => r.productId));
          expect(cart.totalCents).toBe(kept.reduce((s, r) => s + r.unitPriceCents * r.quantity, 0));
        },
      ),
      { numRuns: 300 },
    );
  });
});

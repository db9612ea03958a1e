import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { multiplyMinor, sumMinor } from '../../shared/utils/money.js';
import { randomBytes } from 'node:crypto';
import { cursorCodecWith, parseCursorKeys } from '../../shared/utils/cursor.js';

import { ValidationException, BadRequestException } from '../../shared/errors/index.js';

const codec = cursorCodecWith(parseCursorKeys(`p:${randomBytes(32).toString('base64url')}`), {
  tenantId: '7d0c6a3e-1f2b-4c5d-8e9f-0a1b2c3d4e5f',
  list: 'products:newest',
});

describe('money arithmetic (property-based)', () => {
  it('multiplies exactly or refuses, never rounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 99 }), (unit, qty) => {
        const exact = BigInt(unit) * BigInt(qty);
        if (exact <= BigInt(Number.MAX_SAFE_INTEGER)) expect(BigInt(multiplyMinor(unit, qty))).toBe(exact);
        else expect(() => multiplyMinor(unit, qty)).toThrow(BadRequestException);
      }),
    );
  });

  it('sums exactly or refuses', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { maxLength: 20 }),
        (amounts) => {
          const exact = amounts.reduce((a, b) => a + BigInt(b), 0n);
          if (exact <= BigInt(Number.MAX_SAFE_INTEGER)) expect(BigInt(sumMinor(amounts))).toBe(exact);
          else expect(() => sumMinor(amounts)).toThrow(BadRequestException);
        },
      ),
    );
  });
});

describe('cursors (property-based)', () => {
  const Key = z.tuple([z.iso.datetime(), z.uuid()]);

  it('round-trip any valid key', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date(0), max: new Date('2999-01-01'), noInvalidDate: true }),
        fc.uuid(),
        (date, id) => {
          const key = [date.toISOString(), id];
          expect(codec.decode(codec.encode(key), Key)).toEqual(key);
        },
      ),
    );
  });

  it('turn any other string into a 400, never a crash', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), (junk) => {
        // A random string is never a valid cursor: every one must be refused, as a 400, not let through.
        let refused: unknown;
        try {
          codec.decode(junk, Key);
        } catch (error) {
          refused = error;
        }
        expect(refused).toBeInstanceOf(ValidationException);
        expect((refused as ValidationException).status).toBe(400);
      }),
      { numRuns: 500 },
    );
    // The empty string is "no cursor" (the first page), not an error.
    expect(codec.decode('', Key)).toBeUndefined();
  });
});

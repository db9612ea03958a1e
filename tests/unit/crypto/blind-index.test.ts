import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blindIndex,
  emailBlindIndex,
  normaliseEmail,
  parseBlindIndexKey,
} from '../../../shared/crypto/blind-index.js';

describe('normaliseEmail', () => {
  it('trims, folds compatibility forms and case', () => {
    expect(normaliseEmail('  Jane.Doe@Example.COM \n')).toBe('jane.doe@example.com');
    expect(normaliseEmail('ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ')).toBe('jane@example.com');
    // Composed and decomposed forms of é are one address.
    expect(normaliseEmail('Jose\u0301@example.com')).toBe(normaliseEmail('Jos\u00e9@example.com'));
  });

  it('keeps dots and plus tags: they are different mailboxes at most providers', () => {
    expect(normaliseEmail('j.doe+shop@example.com')).toBe('j.doe+shop@example.com');
    expect(normaliseEmail('jdoe@example.com')).not.toBe(normaliseEmail('j.doe@example.com'));
    expect(normaliseEmail('jdoe+a@example.com')).not.toBe(normaliseEmail('jdoe@example.com'));
  });

  it('is idempotent for any input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
        const once = normaliseEmail(text);
        expect(normaliseEmail(once)).toBe(once);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        const once = normaliseEmail(text);
        expect(normaliseEmail(once)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('blindIndex', () => {
  const key = randomBytes(32);

  it('is a deterministic keyed HMAC-SHA256, hex', () => {
    const index = blindIndex(key, 'value');
    expect(index).toMatch(/^[0-9a-f]{64}$/);
    expect(blindIndex(key, 'value')).toBe(index);
    expect(blindIndex(randomBytes(32), 'value')).not.toBe(index);
    expect(blindIndex(key, 'value2')).not.toBe(index);
  });

  it('matches an independent HMAC computation', () => {
    // HMAC-SHA256(key = 32 × 0x0b, "Hi There"), computed with Python's hmac module.
    expect(blindIndex(Buffer.alloc(32, 0x0b), 'Hi There')).toBe(
      '198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7',
    );
  });

  it('gives every spelling of one address the same index', () => {
    const expected = emailBlindIndex(key, 'jane@example.com');
    for (const spelling of [' JANE@example.com', 'Jane@Example.Com', 'ｊａｎｅ@example.com']) {
      expect(emailBlindIndex(key, spelling)).toBe(expected);
    }
    expect(emailBlindIndex(key, 'jane+x@example.com')).not.toBe(expected);
  });

  it('refuses short keys', () => {
    expect(() => blindIndex(randomBytes(16), 'x')).toThrow(RangeError);
  });
});

describe('parseBlindIndexKey', () => {
  it('reads base64 and base64url, padded or not', () => {
    const bytes = randomBytes(32);
    for (const text of [
      bytes.toString('base64'),
      bytes.toString('base64url'),
      `${bytes.toString('base64url')}=`,
      ` ${bytes.toString('base64')}\n`,
    ]) {
      expect(parseBlindIndexKey(text).equals(bytes)).toBe(true);
    }
  });

  it('rejects short or malformed secrets without echoing them', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => parseBlindIndexKey(short)).toThrow(RangeError);
    expect(() => parseBlindIndexKey('not base64!')).toThrow(RangeError);
    expect(() => parseBlindIndexKey('')).toThrow(RangeError);
    try {
      parseBlindIndexKey(short);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
  });
});

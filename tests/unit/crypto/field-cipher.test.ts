import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Fernet, InvalidFernetToken } from '../../../shared/crypto/fernet.js';
import {
  FieldCipher,
  FieldCipherDecodeError,
  parseFernetKeyList,
} from '../../../shared/crypto/field-cipher.js';

const python = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'python-fernet.json'), 'utf8')) as {
  key: string;
  tokens: { plaintext_b64: string; token: string }[];
};

describe('FieldCipher', () => {
  const newKey = Fernet.generateKey();
  const oldKey = Fernet.generateKey();
  const cipher = new FieldCipher(`${newKey},${oldKey}`);
  const oldOnly = new FieldCipher(oldKey);

  it('round-trips text verbatim and never stores it in clear', () => {
    for (const text of [
      'jane.doe+shop@example.com',
      '+44 20 7946 0958',
      '',
      '  spaces  ',
      "Ñandú 🛒 ' OR 1=1 --",
    ]) {
      const token = cipher.encrypt(text);
      expect(token).not.toContain(text === '' ? '\u0000' : text);
      expect(cipher.decrypt(token)).toBe(text);
    }
  });

  it('keeps null and undefined as null', () => {
    expect(cipher.encrypt(null)).toBeNull();
    expect(cipher.encrypt(undefined)).toBeNull();
    expect(cipher.decrypt(null)).toBeNull();
    expect(cipher.needsRotation(null)).toBe(false);
  });

  it('decrypts with any key, encrypts with the first', () => {
    const legacy = oldOnly.encrypt('legacy@example.com');
    expect(cipher.decrypt(legacy)).toBe('legacy@example.com');
    expect(() => oldOnly.decrypt(cipher.encrypt('new@example.com'))).toThrow(InvalidFernetToken);
  });

  it('finds tokens under older keys and rotates them to the first', () => {
    const legacy = oldOnly.encrypt('rotate@example.com');
    expect(cipher.needsRotation(legacy)).toBe(true);
    const rotated = cipher.rotate(legacy);
    expect(cipher.needsRotation(rotated)).toBe(false);
    expect(new FieldCipher(newKey).decrypt(rotated)).toBe('rotate@example.com');
    expect(cipher.needsRotation(cipher.encrypt('fresh'))).toBe(false);
  });

  it('throws rather than guessing on tokens no key opens', () => {
    const foreign = new FieldCipher(Fernet.generateKey()).encrypt('x');
    expect(() => cipher.needsRotation(foreign)).toThrow(InvalidFernetToken);
    expect(() => cipher.rotate(foreign)).toThrow(InvalidFernetToken);
    expect(() => cipher.decrypt('plain@example.com')).toThrow(InvalidFernetToken);
  });

  it('reads values the old platform wrote with Python', () => {
    const legacy = new FieldCipher(`${Fernet.generateKey()},${python.key}`);
    const email = python.tokens.find(
      (t) => Buffer.from(t.plaintext_b64, 'base64').toString() === 'customer@example.com',
    );
    expect(email).toBeDefined();
    expect(legacy.decrypt(email!.token)).toBe('customer@example.com');
    expect(legacy.needsRotation(email!.token)).toBe(true);
  });

  it('refuses binary plaintext instead of returning mangled text', () => {
    const binary = python.tokens.find((t) => Buffer.from(t.plaintext_b64, 'base64').length === 256)!;
    expect(() => new FieldCipher(python.key).decrypt(binary.token)).toThrow(FieldCipherDecodeError);
  });

  it('parses the FERNET_KEYS secret strictly and without echoing keys', () => {
    expect(parseFernetKeyList(` ${newKey} ,\n${oldKey}\n`)).toEqual([newKey, oldKey]);
    expect(parseFernetKeyList(newKey.replace(/=$/, ''))).toHaveLength(1);
    expect(() => parseFernetKeyList('')).toThrow(RangeError);
    expect(() => parseFernetKeyList(`${newKey},,${oldKey}`)).toThrow(/entry 2 is empty/);
    expect(() => new FieldCipher(`${newKey},not-a-key`)).toThrow(/32 url-safe base64/);
    try {
      new FieldCipher(`${newKey},not-a-key`);
    } catch (error) {
      expect((error as Error).message).not.toContain(newKey);
    }
  });
});

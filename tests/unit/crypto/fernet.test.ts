import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Fernet,
  InvalidFernetKey,
  InvalidFernetToken,
  MAX_CLOCK_SKEW_SECONDS,
  MultiFernet,
} from '../../../shared/crypto/fernet.js';

interface GenerateVector {
  token: string;
  now: string;
  iv: number[];
  src: string;
  secret: string;
}
interface VerifyVector {
  token: string;
  now: string;
  ttl_sec: number;
  src: string;
  secret: string;
}
interface InvalidVector {
  desc: string;
  token: string;
  now: string;
  ttl_sec: number;
  secret: string;
}
interface PythonFixtures {
  generator: string;
  key: string;
  tokens: { plaintext_b64: string; token: string }[];
  timed: { timestamp: number; plaintext_b64: string; token: string };
  rotation: {
    old_key: string;
    timestamp: number;
    plaintext_b64: string;
    old_token: string;
    rotated_token: string;
  };
}

/**
 * The spec's vectors: the repo's copy in `tests/vectors/fernet`, else `shared/vectors/fernet` beside the clone (here /work/shared, in CI
 * `<clone>/../shared`): walk up from this file until a folder holds them. FERNET_VECTORS_DIR overrides.
 * Missing vectors fail the suite rather than skipping it: passing them is a requirement.
 */
function findVectorsDir(): string {
  const override = process.env.FERNET_VECTORS_DIR;
  if (override !== undefined && override !== '') return override;
  let dir = __dirname;
  for (;;) {
    // tests/vectors/fernet is the repo's copy (self-contained clones); shared/vectors the team's.
    for (const candidate of [
      path.join(dir, 'vectors', 'fernet'),
      path.join(dir, 'shared', 'vectors', 'fernet'),
    ]) {
      if (existsSync(path.join(candidate, 'generate.json'))) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error(`Fernet vectors (shared/vectors/fernet) not found above ${__dirname}`);
    dir = parent;
  }
}

const vectorsDir = findVectorsDir();
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const generate = readJson<GenerateVector[]>(path.join(vectorsDir, 'generate.json'));
const verify = readJson<VerifyVector[]>(path.join(vectorsDir, 'verify.json'));
const invalid = readJson<InvalidVector[]>(path.join(vectorsDir, 'invalid.json'));
const python = readJson<PythonFixtures>(path.join(__dirname, 'fixtures', 'python-fernet.json'));

const b64 = (text: string): Buffer => Buffer.from(text, 'base64');
/** Token bytes, for assertions on the layout. */
const rawToken = (token: string): Buffer => Buffer.from(token, 'base64url');
const timestampOf = (token: string): bigint => rawToken(token).readBigUInt64BE(1);
const ivOf = (token: string): Buffer => rawToken(token).subarray(9, 25);
const toBase64UrlPadded = (bytes: Buffer): string => {
  const s = bytes.toString('base64url');
  return s + '='.repeat((4 - (s.length % 4)) % 4);
};

describe('Fernet specification vectors', () => {
  it('found all three vector files', () => {
    expect(generate.length).toBeGreaterThan(0);
    expect(verify.length).toBeGreaterThan(0);
    expect(invalid.length).toBeGreaterThan(0);
  });

  it.each(generate)('generate: $src at $now', (vector) => {
    const fernet = new Fernet(vector.secret);
    const token = fernet.encrypt(vector.src, { now: new Date(vector.now), iv: Buffer.from(vector.iv) });
    expect(token).toBe(vector.token);
    expect(fernet.decrypt(token).toString('utf8')).toBe(vector.src);
  });

  it.each(verify)('verify: $src at $now with ttl $ttl_sec', (vector) => {
    const options = { ttlSeconds: vector.ttl_sec, now: new Date(vector.now) };
    expect(new Fernet(vector.secret).decrypt(vector.token, options).toString('utf8')).toBe(vector.src);
    expect(new MultiFernet([vector.secret]).decrypt(vector.token, options).toString('utf8')).toBe(vector.src);
  });

  it.each(invalid)('invalid: $desc', (vector) => {
    const options = { ttlSeconds: vector.ttl_sec, now: new Date(vector.now) };
    expect(() => new Fernet(vector.secret).decrypt(vector.token, options)).toThrow(InvalidFernetToken);
    expect(() => new MultiFernet([vector.secret]).decrypt(vector.token, options)).toThrow(InvalidFernetToken);
  });

  it('every invalid vector fails with the same class and message (no hint of which check failed)', () => {
    const failures = invalid.map((vector) => {
      try {
        new Fernet(vector.secret).decrypt(vector.token, {
          ttlSeconds: vector.ttl_sec,
          now: new Date(vector.now),
        });
        return 'accepted';
      } catch (error) {
        return `${(error as Error).constructor.name}: ${(error as Error).message}`;
      }
    });
    expect(new Set(failures)).toEqual(new Set(['InvalidFernetToken: Invalid Fernet token']));
  });
});

describe('interoperability with Python cryptography', () => {
  // Made by tests/unit/crypto/fixtures/generate-python-fernet.py (python 3.11, cryptography 48.0.0).
  const fernet = new Fernet(python.key);

  it.each(python.tokens.map((t, i) => ({ ...t, i })))('decrypts Python token #$i', (fixture) => {
    expect(fernet.decrypt(fixture.token).equals(b64(fixture.plaintext_b64))).toBe(true);
  });

  it('re-encrypting a Python plaintext with its timestamp and IV reproduces the Python token byte for byte', () => {
    for (const fixture of python.tokens) {
      const timestamp = Number(timestampOf(fixture.token));
      const again = fernet.encrypt(b64(fixture.plaintext_b64), {
        now: new Date(timestamp * 1000),
        iv: ivOf(fixture.token),
      });
      expect(again).toBe(fixture.token);
    }
  });

  it('applies the TTL to a Python token stamped at a known time', () => {
    const { token, timestamp, plaintext_b64 } = python.timed;
    const at = (seconds: number) => new Date(seconds * 1000);
    expect(fernet.decrypt(token, { ttlSeconds: 3600, now: at(timestamp + 3600) })).toEqual(
      b64(plaintext_b64),
    );
    expect(() => fernet.decrypt(token, { ttlSeconds: 3600, now: at(timestamp + 3601) })).toThrow(
      InvalidFernetToken,
    );
  });

  it('decrypts what Python MultiFernet.rotate made, and rotates like it (same timestamp, new key)', () => {
    const { old_key, old_token, rotated_token, timestamp, plaintext_b64 } = python.rotation;
    expect(fernet.decrypt(rotated_token)).toEqual(b64(plaintext_b64));
    expect(timestampOf(rotated_token)).toBe(BigInt(timestamp));

    const multi = new MultiFernet([python.key, old_key]);
    const ours = multi.rotate(old_token);
    expect(timestampOf(ours)).toBe(timestampOf(rotated_token));
    expect(fernet.decrypt(ours)).toEqual(b64(plaintext_b64));
    expect(() => new Fernet(old_key).decrypt(ours)).toThrow(InvalidFernetToken);
  });

  it('produces keys in the form Python generates (44 characters, padded)', () => {
    const key = Fernet.generateKey();
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(python.key).toMatch(/^[A-Za-z0-9_-]{43}=$/);
  });
});

describe('Fernet', () => {
  const key = Fernet.generateKey();
  const fernet = new Fernet(key);
  const T = 1_700_000_000;
  const at = (seconds: number): Date => new Date(seconds * 1000);
  /** Edits a token's signed part and signs it again, to test checks that a valid MAC does not cover. */
  const resign = (token: string, edit: (body: Buffer) => void): string => {
    const raw = rawToken(token);
    const body = Buffer.from(raw.subarray(0, raw.length - 32));
    edit(body);
    const mac = createHmac('sha256', Buffer.from(key, 'base64url').subarray(0, 16)).update(body).digest();
    return toBase64UrlPadded(Buffer.concat([body, mac]));
  };

  it('round-trips any bytes and any string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(fernet.decrypt(fernet.encrypt(Buffer.from(bytes))).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), (text) => {
        expect(fernet.decrypt(fernet.encrypt(text)).toString('utf8')).toBe(text);
      }),
    );
  });

  it('uses a fresh IV per token, and the layout of the spec', () => {
    const a = fernet.encrypt('same', { now: at(T) });
    const b = fernet.encrypt('same', { now: at(T) });
    expect(a).not.toBe(b);
    const raw = rawToken(a);
    expect(raw[0]).toBe(0x80);
    expect(raw.readBigUInt64BE(1)).toBe(BigInt(T));
    expect(raw.length).toBe(1 + 8 + 16 + 16 + 32);
    expect(a.length % 4).toBe(0);
  });

  it('rejects every single-bit change anywhere in the token', () => {
    const raw = rawToken(fernet.encrypt('tamper-proof', { now: at(T) }));
    for (let i = 0; i < raw.length; i += 1) {
      for (const bit of [0x01, 0x80]) {
        const copy = Buffer.from(raw);
        copy[i] = copy[i]! ^ bit;
        expect(() => fernet.decrypt(toBase64UrlPadded(copy))).toThrow(InvalidFernetToken);
      }
    }
  });

  it('rejects truncated and extended tokens', () => {
    const raw = rawToken(fernet.encrypt('x'));
    for (const length of [0, 1, 9, 25, 41, 72, raw.length - 1]) {
      expect(() => fernet.decrypt(toBase64UrlPadded(raw.subarray(0, length)))).toThrow(InvalidFernetToken);
    }
    expect(() => fernet.decrypt(toBase64UrlPadded(Buffer.concat([raw, Buffer.alloc(16)])))).toThrow(
      InvalidFernetToken,
    );
  });

  it('rejects any version byte but 0x80, even under a valid MAC', () => {
    const token = fernet.encrypt('versioned');
    expect(fernet.decrypt(resign(token, () => undefined)).toString()).toBe('versioned');
    for (const version of [0x00, 0x7f, 0x81, 0xff]) {
      expect(() => fernet.decrypt(resign(token, (body) => (body[0] = version)))).toThrow(InvalidFernetToken);
    }
  });

  it('rejects tokens made under another key', () => {
    const other = new Fernet(Fernet.generateKey());
    expect(() => other.decrypt(fernet.encrypt('secret'))).toThrow(InvalidFernetToken);
  });

  describe('base64 handling', () => {
    // Tokens whose byte length needs 0, 1 and 2 padding characters.
    const tokens = ['', 'a', 'ab', 'abc'].map((p) => fernet.encrypt('x'.repeat(16 + p.length * 16) + p));
    const padded = tokens.filter((t) => t.endsWith('='));

    it('accepts tokens with and without their padding', () => {
      expect(padded.length).toBeGreaterThan(0);
      for (const token of tokens) {
        const plain = fernet.decrypt(token);
        expect(fernet.decrypt(token.replace(/=+$/, ''))).toEqual(plain);
      }
    });

    it('rejects wrong padding, other alphabets, whitespace and non-canonical encodings', () => {
      const token = padded[0]!;
      const unpadded = token.replace(/=+$/, '');
      const bad = [
        `${token}=`,
        `${unpadded}===`,
        `${token}\n`,
        ` ${token}`,
        `${token.slice(0, 10)} ${token.slice(10)}`,
        token.replace(/-/g, '+').replace(/_/g, '/'),
        `${token.slice(0, 10)}%${token.slice(10)}`,
        '',
      ].filter((t) => t !== token);
      for (const candidate of bad) {
        expect(() => fernet.decrypt(candidate), JSON.stringify(candidate)).toThrow(InvalidFernetToken);
      }
      // Non-zero unused bits in the last character decode to the same bytes in lenient decoders.
      const last = unpadded.at(-1)!;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const sibling = alphabet[alphabet.indexOf(last) + 1]!;
      const nonCanonical = unpadded.slice(0, -1) + sibling;
      expect(Buffer.from(nonCanonical, 'base64url')).toEqual(Buffer.from(unpadded, 'base64url'));
      expect(() => fernet.decrypt(nonCanonical)).toThrow(InvalidFernetToken);
    });
  });

  describe('time', () => {
    const token = fernet.encrypt('timed', { now: at(T) });

    it('accepts a token up to and including its TTL, and not one second later', () => {
      expect(fernet.decrypt(token, { ttlSeconds: 60, now: at(T + 60) }).toString()).toBe('timed');
      expect(() => fernet.decrypt(token, { ttlSeconds: 60, now: at(T + 61) })).toThrow(InvalidFernetToken);
      expect(fernet.decrypt(token, { ttlSeconds: 0, now: at(T) }).toString()).toBe('timed');
    });

    it(`allows ${MAX_CLOCK_SKEW_SECONDS} s of clock skew when time is checked, not more`, () => {
      expect(fernet.decrypt(token, { ttlSeconds: 60, now: at(T - 60) }).toString()).toBe('timed');
      expect(() => fernet.decrypt(token, { ttlSeconds: 60, now: at(T - 61) })).toThrow(InvalidFernetToken);
    });

    it('does not judge the timestamp without a TTL, like Python (data at rest stays readable)', () => {
      const future = fernet.encrypt('future', { now: new Date(Date.now() + 3_600_000) });
      expect(fernet.decrypt(future).toString()).toBe('future');
      expect(() => fernet.decrypt(future, { ttlSeconds: 10 })).toThrow(InvalidFernetToken);
      const ancient = fernet.encrypt('old', { now: at(0) });
      expect(fernet.decrypt(ancient).toString()).toBe('old');
    });

    it('handles timestamps beyond 2^53 seconds without precision loss', () => {
      const forged = resign(token, (body) => body.writeBigUInt64BE(2n ** 63n + 1n, 1));
      expect(fernet.decrypt(forged).toString()).toBe('timed');
      expect(() => fernet.decrypt(forged, { ttlSeconds: 10 ** 9, now: at(T) })).toThrow(InvalidFernetToken);
    });

    it('treats a bad ttl or date as a programming error, not a bad token', () => {
      expect(() => fernet.decrypt(token, { ttlSeconds: -1 })).toThrow(RangeError);
      expect(() => fernet.decrypt(token, { ttlSeconds: 1.5 })).toThrow(RangeError);
      expect(() => fernet.encrypt('x', { now: new Date(Number.NaN) })).toThrow(RangeError);
      expect(() => fernet.encrypt('x', { now: new Date(-1000) })).toThrow(RangeError);
    });
  });

  it('validates keys and IVs without echoing the key', () => {
    const unpadded = key.replace(/=$/, '');
    expect(new Fernet(unpadded).decrypt(fernet.encrypt('k')).toString()).toBe('k');
    expect(new Fernet(`${key}\n`).decrypt(fernet.encrypt('k')).toString()).toBe('k');
    const shortKey = Buffer.alloc(16, 7).toString('base64url');
    for (const bad of ['', 'not a key', shortKey, `${key}AAAA`, key.replace(/-/g, '+').replace(/_/g, '/')]) {
      if (bad === key) continue;
      expect(() => new Fernet(bad)).toThrow(InvalidFernetKey);
      try {
        new Fernet(bad);
      } catch (error) {
        if (bad !== '') expect((error as Error).message).not.toContain(bad);
      }
    }
    expect(() => fernet.encrypt('x', { iv: Buffer.alloc(15) })).toThrow(RangeError);
  });

  it('never exposes key material through inspection or JSON', () => {
    const keyBytes = Buffer.from(key, 'base64url');
    const shown = `${inspect(fernet, { showHidden: true, depth: 5 })}${JSON.stringify(fernet)}`;
    expect(shown).not.toContain(key.slice(0, 20));
    expect(shown).not.toContain(keyBytes.subarray(0, 16).toString('hex'));
  });
});

describe('MultiFernet', () => {
  const newKey = Fernet.generateKey();
  const oldKey = Fernet.generateKey();
  const multi = new MultiFernet([newKey, oldKey]);
  const T = 1_600_000_000;

  it('encrypts with the first key and decrypts with any', () => {
    const token = multi.encrypt('data');
    expect(new Fernet(newKey).decrypt(token).toString()).toBe('data');
    expect(() => new Fernet(oldKey).decrypt(token)).toThrow(InvalidFernetToken);
    expect(multi.decrypt(new Fernet(oldKey).encrypt('legacy')).toString()).toBe('legacy');
    expect(() => multi.decrypt(new Fernet(Fernet.generateKey()).encrypt('x'))).toThrow(InvalidFernetToken);
  });

  it('accepts Fernet instances as well as key strings', () => {
    const mixed = new MultiFernet([new Fernet(newKey), oldKey]);
    expect(mixed.decrypt(multi.encrypt('m')).toString()).toBe('m');
    expect(mixed.size).toBe(2);
  });

  it('rotates under the first key, keeping the timestamp and changing the IV', () => {
    const old = new Fernet(oldKey).encrypt('rotate', { now: new Date(T * 1000) });
    const rotated = multi.rotate(old);
    expect(timestampOf(rotated)).toBe(BigInt(T));
    expect(ivOf(rotated).equals(ivOf(old))).toBe(false);
    expect(new Fernet(newKey).decrypt(rotated).toString()).toBe('rotate');
    expect(multi.keyIndexOf(old)).toBe(1);
    expect(multi.keyIndexOf(rotated)).toBe(0);
    // Rotating an already-current token is harmless: same plaintext and timestamp, new IV.
    expect(timestampOf(multi.rotate(rotated))).toBe(BigInt(T));
  });

  it('rotates tokens that are long past any TTL', () => {
    const ancient = new Fernet(oldKey).encrypt('ancient', { now: new Date(0) });
    expect(multi.decrypt(multi.rotate(ancient)).toString()).toBe('ancient');
  });

  it('refuses to rotate or index what no key opens', () => {
    const foreign = new Fernet(Fernet.generateKey()).encrypt('x');
    expect(() => multi.rotate(foreign)).toThrow(InvalidFernetToken);
    expect(() => multi.rotate('garbage')).toThrow(InvalidFernetToken);
    expect(multi.keyIndexOf(foreign)).toBe(-1);
    expect(multi.keyIndexOf('garbage')).toBe(-1);
  });

  it('applies TTL and skew once, whatever key matches', () => {
    const token = new Fernet(oldKey).encrypt('t', { now: new Date(T * 1000) });
    expect(multi.decrypt(token, { ttlSeconds: 10, now: new Date((T + 10) * 1000) }).toString()).toBe('t');
    expect(() => multi.decrypt(token, { ttlSeconds: 10, now: new Date((T + 11) * 1000) })).toThrow(
      InvalidFernetToken,
    );
  });

  it('needs at least one key', () => {
    expect(() => new MultiFernet([])).toThrow(RangeError);
  });
});

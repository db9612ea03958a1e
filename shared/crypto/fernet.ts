/**
 * Fernet symmetric authenticated encryption, implemented from the specification
 * (github.com/fernet/spec, Spec.md) with node:crypto only.
 *
 * Token layout (then base64url-encoded, with `=` padding):
 *
 *   Version ‖ Timestamp ‖ IV ‖ Ciphertext ‖ HMAC
 *   1 byte    8 bytes     16   16·n bytes   32 bytes
 *
 * - Version is 0x80; Timestamp is unsigned 64-bit big-endian seconds since the epoch.
 * - Ciphertext is AES-128-CBC with PKCS#7 padding under the key's last 16 bytes.
 * - HMAC is HMAC-SHA256 under the key's first 16 bytes over every byte before it.
 *
 * Behaviour that other implementations disagree on, and what this one does (Python's `cryptography`
 * wrote the old platform's data, so it is the reference for anything the spec leaves open):
 * - The MAC is checked (in constant time) before any decryption, so padding errors cannot become an
 *   oracle; every failure throws the same `InvalidFernetToken` so callers cannot learn which check failed.
 * - Time checks happen only when a TTL is given, exactly like Python and the spec's Go implementation:
 *   then a token older than the TTL, or stamped more than MAX_CLOCK_SKEW (60 s) in the future, is invalid.
 *   Without a TTL the timestamp is not judged at all. This matters for data at rest: a row written by an
 *   instance whose clock runs 2 minutes fast must still be readable (and rotatable) by every other one.
 * - Base64: tokens are accepted with or without their `=` padding (the MAC authenticates the decoded bytes,
 *   so leniency about padding cannot let a forged token through). Python requires the padding; we are more
 *   lenient there. Python silently drops characters outside the alphabet (whitespace, `%`, `+`, `/`); we
 *   reject them and any non-canonical encoding — every implementation *emits* canonical padded base64url,
 *   so strictness costs no interoperability and keeps one token string per token.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x80;
const TIMESTAMP_BYTES = 8;
const IV_BYTES = 16;
const BLOCK_BYTES = 16;
const HMAC_BYTES = 32;
const KEY_BYTES = 32;
const HALF_KEY_BYTES = 16;
const HEADER_BYTES = 1 + TIMESTAMP_BYTES + IV_BYTES;
/** Version + timestamp + IV + one cipher block (PKCS#7 always adds at least one byte) + HMAC. */
const MIN_TOKEN_BYTES = HEADER_BYTES + BLOCK_BYTES + HMAC_BYTES;
/** The spec's MAX_CLOCK_SKEW: how far in the future a timestamp may be when time is checked. */
export const MAX_CLOCK_SKEW_SECONDS = 60;

/**
 * The only error decryption throws for a bad token — malformed, wrong key, tampered, expired or from the
 * future alike. One class and one fixed message on purpose: distinguishing failures helps attackers
 * (padding/MAC oracles), not callers.
 */
export class InvalidFernetToken extends Error {
  constructor() {
    super('Invalid Fernet token');
    this.name = 'InvalidFernetToken';
  }
}

/** A key that is not 32 url-safe base64-encoded bytes. The message never contains key material. */
export class InvalidFernetKey extends Error {
  constructor() {
    super('Fernet key must be 32 url-safe base64-encoded bytes');
    this.name = 'InvalidFernetKey';
  }
}

export interface FernetEncryptOptions {
  /** The token's timestamp (defaults to the current time); whole seconds, rounded down like Python. */
  now?: Date;
  /** A fixed 16-byte IV, for test vectors only: production must use the random default. */
  iv?: Buffer;
}

export interface FernetDecryptOptions {
  /** Maximum token age in seconds. When given, the clock-skew limit is enforced too. */
  ttlSeconds?: number;
  /** "Now" for the TTL and clock-skew checks (defaults to the current time). */
  now?: Date;
}

interface KeyMaterial {
  readonly signing: Buffer;
  readonly encryption: Buffer;
}

interface ParsedToken {
  readonly data: Buffer;
  readonly timestamp: bigint;
}

/**
 * Key halves live here rather than on the instances, so they never show up in `console.log`, JSON or
 * error reports of a Fernet object, and MultiFernet (same module) can still reach them.
 */
const keysOf = new WeakMap<Fernet, KeyMaterial>();

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Strict base64url decoding: alphabet `A–Z a–z 0–9 - _`, padding optional but correct when present,
 * canonical encoding only. Returns null instead of throwing so callers choose their own error.
 * (Buffer.from(…, 'base64url') alone would silently skip invalid characters.)
 */
function decodeBase64Url(text: string): Buffer | null {
  if (!BASE64URL.test(text)) return null;
  const unpadded = text.replace(/=+$/, '');
  const padding = text.length - unpadded.length;
  if (unpadded.length % 4 === 1) return null;
  if (padding > 0 && (unpadded.length + padding) % 4 !== 0) return null;
  const bytes = Buffer.from(unpadded, 'base64url');
  // Rejects encodings whose unused trailing bits are not zero (several strings for one byte sequence).
  if (bytes.toString('base64url') !== unpadded) return null;
  return bytes;
}

/** base64url with `=` padding, as the spec, its vectors and Python produce. */
function encodeBase64UrlPadded(bytes: Buffer): string {
  const unpadded = bytes.toString('base64url');
  return unpadded + '='.repeat((4 - (unpadded.length % 4)) % 4);
}

function parseKey(key: string): KeyMaterial {
  if (typeof key !== 'string') throw new InvalidFernetKey();
  const bytes = decodeBase64Url(key.trim());
  if (bytes === null || bytes.length !== KEY_BYTES) throw new InvalidFernetKey();
  return {
    signing: bytes.subarray(0, HALF_KEY_BYTES),
    encryption: bytes.subarray(HALF_KEY_BYTES),
  };
}

function unixSeconds(date: Date): bigint {
  const ms = date.getTime();
  if (!Number.isFinite(ms) || ms < 0)
    throw new RangeError('Fernet timestamps must be valid dates after 1970');
  return BigInt(Math.floor(ms / 1000));
}

/** Decodes and checks the structure (version, length, block alignment); no key involved yet. */
function parseToken(token: string): ParsedToken {
  if (typeof token !== 'string') throw new InvalidFernetToken();
  const data = decodeBase64Url(token);
  if (
    data === null ||
    data.length < MIN_TOKEN_BYTES ||
    data[0] !== VERSION ||
    (data.length - HEADER_BYTES - HMAC_BYTES) % BLOCK_BYTES !== 0
  ) {
    throw new InvalidFernetToken();
  }
  return { data, timestamp: data.readBigUInt64BE(1) };
}

/** Python's rule: expired when `timestamp + ttl < now`; too new when `now + skew < timestamp`. */
function checkTime(timestamp: bigint, options: FernetDecryptOptions): void {
  if (options.ttlSeconds === undefined) return;
  const ttl = options.ttlSeconds;
  if (!Number.isSafeInteger(ttl) || ttl < 0) {
    // A programming error, not a bad token: surface it as such.
    throw new RangeError('ttlSeconds must be a non-negative integer');
  }
  const now = unixSeconds(options.now ?? new Date());
  if (timestamp + BigInt(ttl) < now || now + BigInt(MAX_CLOCK_SKEW_SECONDS) < timestamp) {
    throw new InvalidFernetToken();
  }
}

function sign(keys: KeyMaterial, signed: Buffer): Buffer {
  return createHmac('sha256', keys.signing).update(signed).digest();
}

function hasValidMac(keys: KeyMaterial, data: Buffer): boolean {
  const macStart = data.length - HMAC_BYTES;
  // Both sides are always 32 bytes here, as timingSafeEqual requires.
  return timingSafeEqual(sign(keys, data.subarray(0, macStart)), data.subarray(macStart));
}

/** MAC first, then decrypt: a token that fails authentication never reaches the cipher. */
function open(keys: KeyMaterial, data: Buffer): Buffer {
  if (!hasValidMac(keys, data)) throw new InvalidFernetToken();
  const iv = data.subarray(1 + TIMESTAMP_BYTES, HEADER_BYTES);
  const ciphertext = data.subarray(HEADER_BYTES, data.length - HMAC_BYTES);
  try {
    const decipher = createDecipheriv('aes-128-cbc', keys.encryption, iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    // Bad PKCS#7 padding under a valid MAC: only a key holder can produce that, still one error for all.
    throw new InvalidFernetToken();
  }
}

function seal(keys: KeyMaterial, plaintext: Buffer, timestamp: bigint, iv: Buffer): string {
  const header = Buffer.alloc(1 + TIMESTAMP_BYTES);
  header[0] = VERSION;
  header.writeBigUInt64BE(timestamp, 1);
  const cipher = createCipheriv('aes-128-cbc', keys.encryption, iv);
  const body = Buffer.concat([header, iv, cipher.update(plaintext), cipher.final()]);
  return encodeBase64UrlPadded(Buffer.concat([body, sign(keys, body)]));
}

function toBuffer(plaintext: Buffer | string): Buffer {
  if (typeof plaintext === 'string') return Buffer.from(plaintext, 'utf8');
  if (Buffer.isBuffer(plaintext)) return plaintext;
  throw new TypeError('Fernet plaintext must be a Buffer or a string');
}

function keysFor(fernet: Fernet): KeyMaterial {
  const keys = keysOf.get(fernet);
  // Unreachable for instances built by the constructor; guards against objects faking the class.
  if (keys === undefined) throw new TypeError('Not a Fernet instance');
  return keys;
}

/** One Fernet key: encrypts and decrypts tokens. */
export class Fernet {
  /** @param key 32 bytes, url-safe base64 (padding optional), e.g. from `Fernet.generateKey()`. */
  constructor(key: string) {
    keysOf.set(this, parseKey(key));
  }

  /** A fresh random key in the canonical form Python's `Fernet.generate_key()` produces. */
  static generateKey(): string {
    return encodeBase64UrlPadded(randomBytes(KEY_BYTES));
  }

  encrypt(plaintext: Buffer | string, options: FernetEncryptOptions = {}): string {
    const iv = options.iv ?? randomBytes(IV_BYTES);
    if (!Buffer.isBuffer(iv) || iv.length !== IV_BYTES) throw new RangeError('Fernet IV must be 16 bytes');
    return seal(keysFor(this), toBuffer(plaintext), unixSeconds(options.now ?? new Date()), iv);
  }

  /** @throws InvalidFernetToken for every kind of bad token. */
  decrypt(token: string, options: FernetDecryptOptions = {}): Buffer {
    const parsed = parseToken(token);
    checkTime(parsed.timestamp, options);
    return open(keysFor(this), parsed.data);
  }

  /** True when the token's MAC verifies under this key (structure checked too; no decryption, no time). */
  isSignedBy(token: string): boolean {
    try {
      return hasValidMac(keysFor(this), parseToken(token).data);
    } catch (error) {
      if (error instanceof InvalidFernetToken) return false;
      throw error;
    }
  }
}

/**
 * Several keys for rotation: encrypts with the first, decrypts with any (tried in order).
 * Put the newest key first; keep old keys until `rotate` has re-encrypted everything written under them.
 */
export class MultiFernet {
  readonly #fernets: readonly Fernet[];

  constructor(keys: ReadonlyArray<Fernet | string>) {
    if (keys.length === 0) throw new RangeError('MultiFernet needs at least one key');
    this.#fernets = keys.map((key) => (key instanceof Fernet ? key : new Fernet(key)));
  }

  /** How many keys this instance holds (the first encrypts). */
  get size(): number {
    return this.#fernets.length;
  }

  encrypt(plaintext: Buffer | string, options: FernetEncryptOptions = {}): string {
    return this.#primary().encrypt(plaintext, options);
  }

  /** @throws InvalidFernetToken when no key opens the token, or the time checks fail. */
  decrypt(token: string, options: FernetDecryptOptions = {}): Buffer {
    const parsed = parseToken(token);
    checkTime(parsed.timestamp, options);
    return this.#openWithAnyKey(parsed.data);
  }

  /**
   * Re-encrypts under the first key with a fresh IV, keeping the token's original timestamp — what
   * Python's `MultiFernet.rotate` does, so a TTL still counts from when the data was first written.
   * No TTL or clock-skew check: rotation must also work on old tokens.
   * @throws InvalidFernetToken when no key opens the token.
   */
  rotate(token: string): string {
    const parsed = parseToken(token);
    const plaintext = this.#openWithAnyKey(parsed.data);
    return seal(keysFor(this.#primary()), plaintext, parsed.timestamp, randomBytes(IV_BYTES));
  }

  /** Index of the first key whose MAC verifies the token, or -1 when none does (checks MACs only). */
  keyIndexOf(token: string): number {
    let data: Buffer;
    try {
      data = parseToken(token).data;
    } catch (error) {
      if (error instanceof InvalidFernetToken) return -1;
      throw error;
    }
    return this.#fernets.findIndex((fernet) => hasValidMac(keysFor(fernet), data));
  }

  #primary(): Fernet {
    const primary = this.#fernets[0];
    if (primary === undefined) throw new RangeError('MultiFernet needs at least one key');
    return primary;
  }

  #openWithAnyKey(data: Buffer): Buffer {
    for (const fernet of this.#fernets) {
      try {
        return open(keysFor(fernet), data);
      } catch (error) {
        if (!(error instanceof InvalidFernetToken)) throw error;
      }
    }
    throw new InvalidFernetToken();
  }
}

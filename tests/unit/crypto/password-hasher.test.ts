import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { createBcryptWorker } from '../../../shared/crypto/bcrypt-worker.js';
import {
  defaultPoolSize,
  MAX_PASSWORD_BYTES,
  PasswordHasher,
  PasswordHasherError,
  PasswordPolicyError,
  PasswordTooLongError,
  PasswordTooShortError,
} from '../../../shared/crypto/password-hasher.js';

const GOOD = 'correct horse battery';
const hashers: PasswordHasher[] = [];
const make = (options: ConstructorParameters<typeof PasswordHasher>[0] = {}): PasswordHasher => {
  const hasher = new PasswordHasher({ cost: 4, ...options });
  hashers.push(hasher);
  return hasher;
};
afterAll(async () => {
  await Promise.all(hashers.map((h) => h.close()));
});

/** A worker that dies on its first job, the way an out-of-memory or native crash would look. */
const exitingWorker = (): Worker =>
  new Worker("require('node:worker_threads').parentPort.on('message', () => process.exit(7));", {
    eval: true,
  });
/** A worker whose code throws (an 'error' event, which must not take the main thread down). */
const throwingWorker = (): Worker =>
  new Worker("require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom'); });", {
    eval: true,
  });

describe('PasswordHasher', () => {
  it('hashes and verifies (cost 4)', async () => {
    const hasher = make();
    const hash = await hasher.hash(GOOD);
    expect(hash).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{53}$/);
    expect(await hasher.verify(GOOD, hash)).toBe(true);
    expect(await hasher.verify(`${GOOD}!`, hash)).toBe(false);
    expect(await hasher.hash(GOOD)).not.toBe(hash); // fresh salt each time
    // Compatible with bcryptjs used directly.
    expect(bcrypt.compareSync(GOOD, hash)).toBe(true);
  });

  it('hashes and verifies at the production cost 12', async () => {
    const hasher = make({ cost: 12 });
    const hash = await hasher.hash(GOOD);
    expect(hash.startsWith('$2b$12$')).toBe(true);
    expect(await hasher.verify(GOOD, hash)).toBe(true);
    expect(hasher.needsRehash(hash)).toBe(false);
    expect(hasher.needsRehash(bcrypt.hashSync(GOOD, 4))).toBe(true);
  });

  it('defaults to cost 12 and min(cores, 4) workers', () => {
    const hasher = new PasswordHasher();
    hashers.push(hasher);
    expect(hasher.cost).toBe(12);
    expect(hasher.poolSize).toBe(defaultPoolSize());
    expect(defaultPoolSize()).toBeGreaterThanOrEqual(1);
    expect(defaultPoolSize()).toBeLessThanOrEqual(4);
  });

  describe('password policy', () => {
    const hasher = make();

    it('rejects passwords over 72 UTF-8 bytes instead of truncating them', async () => {
      await expect(hasher.hash('a'.repeat(MAX_PASSWORD_BYTES + 1))).rejects.toThrow(PasswordTooLongError);
      expect(await hasher.hash('a'.repeat(MAX_PASSWORD_BYTES))).toMatch(/^\$2b\$/);
      // 18 four-byte emoji are exactly 72 bytes; 19 are too long although only 19 characters.
      await expect(hasher.hash('🔑'.repeat(19))).rejects.toThrow(PasswordTooLongError);
      expect(await hasher.hash('🔑'.repeat(18))).toMatch(/^\$2b\$/);
      // The same rule on verification, for real and unknown users alike.
      const hash = await hasher.hash(GOOD);
      await expect(hasher.verify('a'.repeat(73), hash)).rejects.toThrow(PasswordTooLongError);
      await expect(hasher.verifyAgainstDummy('a'.repeat(73))).rejects.toThrow(PasswordTooLongError);
    });

    it('shows why: bcrypt itself ignores everything after byte 72', () => {
      const hash = bcrypt.hashSync('a'.repeat(72), 4);
      expect(bcrypt.compareSync(`${'a'.repeat(72)}anything else`, hash)).toBe(true);
    });

    it('rejects passwords under 12 characters, counting code points', async () => {
      await expect(hasher.hash('a'.repeat(11))).rejects.toThrow(PasswordTooShortError);
      await expect(hasher.hash('')).rejects.toThrow(PasswordTooShortError);
      // 11 emoji are 22 UTF-16 units but 11 characters.
      await expect(hasher.hash('🔑'.repeat(11))).rejects.toThrow(PasswordTooShortError);
      expect(await hasher.hash('🔑'.repeat(12))).toMatch(/^\$2b\$/);
      expect(await hasher.hash('a'.repeat(12))).toMatch(/^\$2b\$/);
    });

    it('gives policy errors a common base and client-safe messages', async () => {
      const error = await hasher.hash('short').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PasswordPolicyError);
      expect((error as Error).message).not.toContain('short');
    });

    it('still verifies existing hashes of short passwords (the minimum is for new passwords)', async () => {
      const legacy = bcrypt.hashSync('short', 4);
      expect(await hasher.verify('short', legacy)).toBe(true);
    });

    it('treats a malformed stored hash as an error, not as a wrong password', async () => {
      await expect(hasher.verify(GOOD, 'not a hash')).rejects.toThrow(/malformed/);
      await expect(hasher.verify(GOOD, '$2b$03$' + 'a'.repeat(53))).rejects.toThrow(/malformed/);
    });
  });

  it('verifyAgainstDummy always answers false and costs what verify costs', async () => {
    const hasher = make({ cost: 8, poolSize: 1 });
    const hash = await hasher.hash(GOOD);
    expect(await hasher.verifyAgainstDummy(GOOD)).toBe(false);
    expect(await hasher.verifyAgainstDummy(hash)).toBe(false);
    // Interleaved samples and medians, so machine noise hits both sides alike. The bounds catch the
    // real failure modes: a dummy that skips the work (~0×) or hashes first then compares (~2×).
    const time = async (fn: () => Promise<unknown>): Promise<number> => {
      const start = performance.now();
      await fn();
      return performance.now() - start;
    };
    const real: number[] = [];
    const dummy: number[] = [];
    for (let i = 0; i < 9; i += 1) {
      real.push(await time(() => hasher.verify(GOOD, hash)));
      dummy.push(await time(() => hasher.verifyAgainstDummy(GOOD)));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(dummy) / median(real);
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.6);
  });

  it('queues requests beyond the pool size and never starts more workers than it may', async () => {
    let started = 0;
    const hasher = make({
      poolSize: 2,
      workerFactory: () => {
        started += 1;
        return createBcryptWorker();
      },
    });
    const hashes = await Promise.all(Array.from({ length: 10 }, (_, i) => hasher.hash(`${GOOD} ${i}`)));
    expect(new Set(hashes).size).toBe(10);
    expect(started).toBe(2);
    const checks = await Promise.all(hashes.map((h, i) => hasher.verify(`${GOOD} ${i}`, h)));
    expect(checks.every(Boolean)).toBe(true);
    expect(started).toBe(2);
  });

  it('replaces a crashed worker and retries the job once', async () => {
    const kinds: string[] = [];
    const hasher = make({
      poolSize: 1,
      workerFactory: () => {
        const kind = kinds.length === 0 ? 'exit' : kinds.length === 1 ? 'throw' : 'real';
        kinds.push(kind);
        return kind === 'exit' ? exitingWorker() : kind === 'throw' ? throwingWorker() : createBcryptWorker();
      },
    });
    // First job: exiting worker, retried on the throwing one, then it gives up.
    await expect(hasher.hash(GOOD)).rejects.toThrow(PasswordHasherError);
    // The pool is not broken: the next job gets a fresh (real) worker.
    const hash = await hasher.hash(GOOD);
    expect(await hasher.verify(GOOD, hash)).toBe(true);
    expect(kinds).toEqual(['exit', 'throw', 'real']);
  });

  it('recovers a job whose worker dies once', async () => {
    let count = 0;
    const hasher = make({
      poolSize: 1,
      workerFactory: () => (count++ === 0 ? exitingWorker() : createBcryptWorker()),
    });
    expect(await hasher.hash(GOOD)).toMatch(/^\$2b\$04\$/);
  });

  it('fails requests when a worker cannot even be constructed, and stays usable', async () => {
    let count = 0;
    const hasher = make({
      poolSize: 1,
      workerFactory: () => {
        if (count++ === 0) throw new Error('EMFILE');
        return createBcryptWorker();
      },
    });
    await expect(hasher.hash(GOOD)).rejects.toThrow(PasswordHasherError);
    expect(await hasher.hash(GOOD)).toMatch(/^\$2b\$/);
  });

  it('close() rejects pending and later work and terminates workers', async () => {
    const hasher = new PasswordHasher({ cost: 10, poolSize: 1 });
    const pending = [hasher.hash(GOOD), hasher.hash(GOOD), hasher.hash(GOOD)];
    const settled = Promise.allSettled(pending);
    await hasher.close();
    const results = await settled;
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    await expect(hasher.hash(GOOD)).rejects.toThrow(/closed/);
    await hasher.close(); // idempotent
  });

  it('keeps the event loop responsive while 8 cost-12 hashes run (p99 < 50 ms)', async () => {
    const hasher = make({ cost: 12 });
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    histogram.enable();
    const start = performance.now();
    const hashes = await Promise.all(Array.from({ length: 8 }, (_, i) => hasher.hash(`${GOOD} ${i}`)));
    const seconds = (performance.now() - start) / 1000;
    histogram.disable();
    const p99 = histogram.percentile(99) / 1e6;
    const max = histogram.max / 1e6;
    console.log(
      `event-loop delay during 8 cost-12 hashes on ${hasher.poolSize} workers: ` +
        `p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; ${(8 / seconds).toFixed(1)} hashes/s`,
    );
    expect(hashes).toHaveLength(8);
    expect(p99).toBeLessThan(50);
  });
});

/**
 * The same modules compiled to CommonJS (what `dist/` holds) in a child process: proves the eval'd
 * worker finds bcryptjs outside vitest, that a pending hash keeps the process alive until it resolves,
 * and that an idle pool does not keep it alive after (the script never calls close()).
 */
describe('compiled CommonJS build', () => {
  const repo = path.resolve(__dirname, '../../..');
  const out = mkdtempSync(path.join(tmpdir(), 'pwhasher-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('hashes in a plain node process and exits on its own', async () => {
    const target = path.join(out, 'shared', 'crypto');
    mkdirSync(target, { recursive: true });
    mkdirSync(path.join(out, 'shared', 'errors'), { recursive: true });
    // The hasher's only import outside its folder: its busy error is a 503 of the one error hierarchy.
    for (const file of ['crypto/bcrypt-worker.ts', 'crypto/password-hasher.ts', 'errors/index.ts']) {
      const source = readFileSync(path.join(repo, 'shared', file), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: {
          module: ts.ModuleKind.CommonJS,
          target: ts.ScriptTarget.ES2022,
          esModuleInterop: true,
        },
      });
      writeFileSync(path.join(out, 'shared', file.replace(/\.ts$/, '.js')), outputText);
    }
    writeFileSync(path.join(out, 'package.json'), '{"type":"commonjs"}');
    symlinkSync(path.join(repo, 'node_modules'), path.join(out, 'node_modules'), 'dir');
    const script = `
      const { PasswordHasher } = require(${JSON.stringify(path.join(target, 'password-hasher.js'))});
      const hasher = new PasswordHasher({ cost: 4, poolSize: 2 });
      hasher.hash('correct horse battery')
        .then((hash) => hasher.verify('correct horse battery', hash).then((ok) => console.log(hash, ok)));
    `;
    const started = performance.now();
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
      cwd: out,
      timeout: 15_000,
    });
    expect(stdout.trim()).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{53} true$/);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import { ServiceUnavailableException } from '../../../shared/errors/index.js';
import { PasswordHasher, PasswordHasherBusyError } from '../../../shared/crypto/password-hasher.js';

const GOOD = 'correct horse battery';
const hashers: PasswordHasher[] = [];
const make = (options: ConstructorParameters<typeof PasswordHasher>[0]): PasswordHasher => {
  const hasher = new PasswordHasher(options);
  hashers.push(hasher);
  return hasher;
};
afterAll(async () => {
  await Promise.all(hashers.map((h) => h.close()));
});

describe('PasswordHasher lanes (issue 19)', () => {
  it('refuses new work at once when a lane is full: 503 + Retry-After, other lane unaffected', async () => {
    const hasher = make({ cost: 10, poolSize: 1, maxQueued: 2 });
    const stored = await hasher.hash(GOOD);
    // One on the worker, two waiting: the lane is full.
    const accepted = [hasher.hash(GOOD), hasher.hash(GOOD), hasher.hash(GOOD)];
    expect(hasher.queued('hash')).toBe(2);
    const refused = await hasher.hash(GOOD).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PasswordHasherBusyError);
    expect(refused).toBeInstanceOf(ServiceUnavailableException);
    const busy = refused as PasswordHasherBusyError;
    expect(busy.status).toBe(503);
    expect(Number(busy.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
    // Logins have their own queue.
    expect(await hasher.verify(GOOD, stored)).toBe(true);
    await Promise.all(accepted);
    // Drained: accepted again.
    expect(typeof (await hasher.hash(GOOD))).toBe('string');
  });

  it('never starves logins behind a registration flood', async () => {
    const hasher = make({ cost: 10, poolSize: 2, maxQueued: 64 });
    const stored = await hasher.hash(GOOD);
    const finished: string[] = [];
    const flood = Array.from({ length: 16 }, (_, i) =>
      hasher.hash(GOOD).then(() => void finished.push(`hash${i}`)),
    );
    // Arrives after the whole flood is queued.
    const login = hasher.verify(GOOD, stored).then((ok) => {
      finished.push('login');
      return ok;
    });
    expect(await login).toBe(true);
    await Promise.all(flood);
    // A free worker takes the login before any queued hash. Finishing order also depends on how the
    // OS schedules the two workers (the other one may complete a few hashes while the login runs on a
    // loaded machine), so the bound leaves room for that; FIFO would put the login last, behind all 16.
    expect(finished.indexOf('login')).toBeLessThanOrEqual(6);
  });
});

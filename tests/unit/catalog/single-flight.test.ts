import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../../shared/cache/single-flight.js';

describe('SingleFlight', () => {
  it('shares one run between concurrent callers of a key, and forgets it afterwards', async () => {
    const flights = new SingleFlight();
    let runs = 0;
    const fn = async () => {
      const mine = ++runs;
      await new Promise((r) => setTimeout(r, 10));
      return mine;
    };
    const results = await Promise.all([flights.run('a', fn), flights.run('a', fn), flights.run('b', fn)]);
    expect(results).toEqual([1, 1, 2]);
    expect(flights.size).toBe(0);
    expect(await flights.run('a', fn)).toBe(3);
  });

  it('shares a failure, then lets the next caller try again', async () => {
    const flights = new SingleFlight();
    let calls = 0;
    const failing = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('boom');
    };
    const settled = await Promise.allSettled([flights.run('k', failing), flights.run('k', failing)]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(await flights.run('k', async () => 'ok')).toBe('ok');
  });
});

import { describe, expect, it } from 'vitest';
import { p95RatioInterval } from '../bench/checkout-compare.js';

// The before/after verdict prints how far the p95 ratio could move by sampling luck alone.
describe('bench compare: p95RatioInterval', () => {
  const latencies = Array.from({ length: 200 }, (_, i) => 100 + i);

  it('brackets 1 when both versions have the same latencies', () => {
    const [low, high] = p95RatioInterval(latencies, [...latencies]);
    expect(low).toBeLessThanOrEqual(1);
    expect(high).toBeGreaterThanOrEqual(1);
    expect(high - low).toBeLessThan(0.2);
  });

  it('is after over before: an after-version twice as slow gives an interval around 2', () => {
    const [low, high] = p95RatioInterval(
      latencies,
      latencies.map((l) => l * 2),
    );
    expect(low).toBeGreaterThan(1.8);
    expect(high).toBeLessThan(2.2);
  });
});

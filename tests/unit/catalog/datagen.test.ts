import { describe, expect, it } from 'vitest';
import { copyLine } from '../../../infra/datagen/copy-text.js';
import { seededRandom, seededUuid } from '../../../infra/datagen/random.js';
import { ZipfSampler, candidateWords } from '../../../infra/datagen/vocabulary.js';

describe('catalog data generator pieces', () => {
  it('samples ranks with Zipf frequencies', () => {
    const sampler = new ZipfSampler(5_000, 1);
    const random = seededRandom(42);
    const counts = new Map<number, number>();
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const r = sampler.sample(random);
      counts.set(r, (counts.get(r) ?? 0) + 1);
    }
    // Rank 1 is about twice rank 2 and ten times rank 10.
    const share = (r: number) => (counts.get(r) ?? 0) / n;
    expect(share(0)).toBeCloseTo(sampler.probabilities[0]!, 2);
    expect(share(0) / share(1)).toBeGreaterThan(1.8);
    expect(share(0) / share(1)).toBeLessThan(2.2);
    expect(share(0) / share(9)).toBeGreaterThan(8);
    expect(sampler.documentFrequency(0, 40)).toBeGreaterThan(0.9);
    expect(sampler.documentFrequency(4_999, 40)).toBeLessThan(0.001);
  });

  it('is reproducible from its seed', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    expect(candidateWords(a, 100)).toEqual(candidateWords(b, 100));
    expect(seededUuid(a)).toEqual(seededUuid(b));
    expect(seededUuid(seededRandom(1))).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('escapes COPY text fields', () => {
    expect(copyLine(['a\tb', 'line\nbreak', 'back\\slash', null, 12])).toBe(
      'a\\tb\tline\\nbreak\tback\\\\slash\t\\N\t12\n',
    );
  });
});

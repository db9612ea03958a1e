import { describe, expect, it } from 'vitest';
import { ValidationException } from '../../../shared/errors/index.js';
import { formatEtag, ifNoneMatchHits, parseIfMatch } from '../../../shared/utils/etag.js';

describe('cart ETags', () => {
  it('are strong, quoted tags of the version', () => {
    expect(formatEtag(0)).toBe('"v0"');
    expect(parseIfMatch(formatEtag(42))).toEqual({ kind: 'versions', versions: [42] });
  });

  it('parse If-Match lists, star, and absent headers', () => {
    expect(parseIfMatch(null)).toBeUndefined();
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(parseIfMatch('*')).toEqual({ kind: 'any' });
    expect(parseIfMatch(' "v1" , "v3","v1"')).toEqual({ kind: 'versions', versions: [1, 3] });
  });

  it('never match weak, foreign or out-of-range tags (→ 412, not a guess)', () => {
    expect(parseIfMatch('W/"v1"')).toEqual({ kind: 'versions', versions: [] });
    expect(parseIfMatch('"abc", "v01", "v-1", ""')).toEqual({ kind: 'versions', versions: [] });
    expect(parseIfMatch('"v2147483648", "v99999999999999"')).toEqual({ kind: 'versions', versions: [] });
    expect(parseIfMatch('"v2147483647"')).toEqual({ kind: 'versions', versions: [2147483647] });
  });

  it.each(['v1', '', ' ', '"v1', 'v1"', '"v1" "v2"', '*, "v1"', '"a"b"'])(
    'reject malformed If-Match %j',
    (h) => {
      expect(() => parseIfMatch(h)).toThrow(ValidationException);
    },
  );

  it('match If-None-Match weakly', () => {
    expect(ifNoneMatchHits('"v3"', 3)).toBe(true);
    expect(ifNoneMatchHits('W/"v3"', 3)).toBe(true);
    expect(ifNoneMatchHits('"v2", "v3"', 3)).toBe(true);
    expect(ifNoneMatchHits('*', 3)).toBe(true);
    expect(ifNoneMatchHits('"v2"', 3)).toBe(false);
    expect(ifNoneMatchHits(null, 0)).toBe(false);
    expect(ifNoneMatchHits('garbage', 0)).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { encodeCell, encodeRow } from '../../shared/services/export/csv.js';

describe('CSV encoding', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line\nbreak', '"line\nbreak"'],
    ['=SUM(A1:A2)', "'=SUM(A1:A2)"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@cmd', "'@cmd"],
    ['\tx', "'\tx"],
    ['\rx', `"'\rx"`],
    ['=a,"b"', `"'=a,""b"""`],
  ])('%j → %j', (input, expected) => {
    expect(encodeCell(input)).toBe(expected);
  });

  it('writes numbers as numbers, even negative ones, and empty cells for null', () => {
    expect(encodeRow([-5, 0, null, undefined, 'x'])).toBe('-5,0,,,x\r\n');
  });

  it('round-trips any text through a real CSV parser (formula prefix aside)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 6 }), (cells) => {
        const [parsed] = parse(encodeRow(cells), { relax_quotes: false }) as string[][];
        const expected = cells.map((c) => (/^[=+\-@\t\r]/.test(c) ? `'${c}` : c));
        expect(parsed).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

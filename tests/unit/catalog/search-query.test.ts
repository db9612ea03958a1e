import { describe, expect, it } from 'vitest';
import { tsQueryExpression } from '../../../shared/services/catalog/search-query.js';

const WEB = "websearch_to_tsquery('english', ?)";
const PREFIX = "to_tsquery('english', quote_literal(?) || ':*')";

describe('tsQueryExpression', () => {
  it('passes the text as one bound value in web-search mode', () => {
    expect(tsQueryExpression('  green tea ', false)).toEqual({ sql: WEB, params: ['green tea'] });
    expect(tsQueryExpression("x'); drop table products; --", false).params).toEqual([
      "x'); drop table products; --",
    ]);
  });

  it('splits off the last word as a prefix in type-ahead mode', () => {
    expect(tsQueryExpression('green te', true)).toEqual({
      sql: `(${WEB} && ${PREFIX})`,
      params: ['green', 'te'],
    });
    expect(tsQueryExpression('Kett', true)).toEqual({ sql: `(${WEB} && ${PREFIX})`, params: ['', 'kett'] });
    expect(tsQueryExpression('café Crè', true).params).toEqual(['café', 'crè']);
  });

  it('keeps `or` semantics before the prefix word', () => {
    expect(tsQueryExpression('mug or kett', true)).toEqual({
      sql: `(${WEB} || ${PREFIX})`,
      params: ['mug', 'kett'],
    });
    expect(tsQueryExpression('mug OR kett', true).sql).toContain('||');
  });

  it.each([
    ['a one-letter last word', 'green t'],
    ['a word inside an open quote', '"green te'],
    ['the operator or', 'mug or'],
    ['an excluded word', 'mug -kett'],
    ['punctuation at the end', 'kettle!'],
    ['a phrase', '"green tea"'],
  ])('does not add a prefix for %s', (_label, text) => {
    expect(tsQueryExpression(text, true)).toEqual({ sql: WEB, params: [text] });
  });

  it('allows a prefix after a closed phrase', () => {
    expect(tsQueryExpression('"green tea" sen', true).params).toEqual(['"green tea"', 'sen']);
  });
});

import { describe, expect, it } from 'vitest';
import { tsQueryExpression } from '../../../shared/services/catalog/search-query.js';
import { searchWindowStatement } from '../../../shared/services/catalog/search-statement.js';

const TENANT_A = '0b0b0b0b-0000-4000-8000-00000000000a';
const TENANT_B = '0b0b0b0b-0000-4000-8000-00000000000b';
const KEY = ['2024-05-01T10:00:00.123456Z', '0b0b0b0b-0000-4000-8000-0000000000ff'] as [string, string];

const open = (tenantId: string, q: string, prefix = false) =>
  searchWindowStatement({
    tenantId,
    query: tsQueryExpression(q, prefix),
    window: { kind: 'open' },
    limit: 21,
  });

describe('searchWindowStatement', () => {
  it('binds every value: the text depends on the shape only, so it is prepared once', () => {
    const a = open(TENANT_A, 'kettle');
    const b = open(TENANT_B, "x'); drop table products; --");
    expect(b.text).toBe(a.text);
    expect(a.values).toEqual([TENANT_A, 'kettle', 21]);
    expect(b.values).toEqual([TENANT_B, "x'); drop table products; --", 21]);
    expect(b.text).not.toContain('drop table');
    expect(b.text).not.toContain(TENANT_B);
  });

  it('scopes to the tenant as $1 and numbers one placeholder per value', () => {
    const statement = searchWindowStatement({
      tenantId: TENANT_A,
      query: tsQueryExpression('mug or kett', true),
      window: { kind: 'known', top: KEY, bottom: KEY },
      after: { rank: 0.25, id: KEY[1] },
      limit: 8,
    });
    expect(statement.text).toMatch(/\bp\.tenant_id = \$1\b/);
    expect(statement.values[0]).toBe(TENANT_A);
    const used = new Set([...statement.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    expect([...used].sort((x, y) => x - y)).toEqual(statement.values.map((_, i) => i + 1));
    expect(statement.values).toEqual([TENANT_A, 'mug', 'kett', ...KEY, ...KEY, 0.25, KEY[1], 8]);
  });

  it('gives each shape its own text (type-ahead, later windows, resumed pages)', () => {
    const below = searchWindowStatement({
      tenantId: TENANT_A,
      query: tsQueryExpression('kettle', false),
      window: { kind: 'open', below: KEY },
      limit: 21,
    });
    const texts = new Set([open(TENANT_A, 'kettle').text, open(TENANT_A, 'kett', true).text, below.text]);
    expect(texts.size).toBe(3);
  });
});

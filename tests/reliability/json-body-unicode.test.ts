import { describe, expect, it } from 'vitest';
import { HttpRequest } from '@azure/functions';
import { readJsonBody } from '../../functions/lib/body.js';
import { BadRequestException } from '../../shared/errors/index.js';

/**
 * Found by the hostile-input suite: `"\ud800"` in a JSON body was accepted and stored as U+FFFD, so the
 * stored text differed from the accepted text. The body reader now refuses text that is not Unicode,
 * as it refuses invalid UTF-8 bytes; well-formed astral characters (surrogate pairs) still pass.
 */
function request(text: string): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/x',
    headers: { 'content-type': 'application/json' },
    body: { string: text },
  });
}

describe('JSON bodies with lone surrogates', () => {
  it.each([
    ['a lone high surrogate', '{"title":"\\ud800"}'],
    ['a lone low surrogate inside text', '{"title":"x\\udfffy"}'],
    ['a reversed pair', '{"title":"\\udca9\\ud83d"}'],
    ['a lone surrogate in a key', '{"\\ud800":1}'],
    ['a lone surrogate deep inside', '{"a":[{"b":["ok","\\udbff"]}]}'],
  ])('refuses %s with a 400', async (_label, text) => {
    await expect(readJsonBody(request(text))).rejects.toBeInstanceOf(BadRequestException);
  });

  it('keeps surrogate pairs (astral characters) and everything else', async () => {
    const value = { title: '💩 \ud83d\udca9 ok', n: 1, nested: [{ k: 'é' }] };
    expect(await readJsonBody(request(JSON.stringify(value)))).toEqual(value);
    expect(await readJsonBody(request('{"t":"\\ud83d\\udca9"}'))).toEqual({ t: '💩' });
  });
});

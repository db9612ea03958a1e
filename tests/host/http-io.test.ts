import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { createHttpRequest, flattenHeaders } from '../../infra/host/http-io.js';

// createHttpRequest hands HttpRequest a stand-in for the fetch Request that builds the real one only
// when the body is read. A handler must not be able to tell: every member is compared with an
// HttpRequest built through the public constructor from the same request, as the host did before.

const RAW = [
  'Host',
  '127.0.0.1:7071',
  'X-Tenant-ID',
  'abc',
  'Cookie',
  'a=1',
  'cookie',
  'b=2',
  'Accept',
  'text/html',
  'accept',
  'application/json',
  'X-Client-IP',
  '6.6.6.6',
  'x-ms-client-principal-name',
  'someone',
  'Content-Type',
  'application/json',
];
const HOST_HEADERS = { 'x-client-ip': '127.0.0.1' };

const QUERY_AS_THE_HOST_SENDS_IT: Record<string, Record<string, string>> = {
  'http://127.0.0.1:7071/api/products?x=1&x=2&y=%20z': { x: '1,2', y: ' z' },
};

function both(method: string, url: string, body: string, raw: string[] = RAW) {
  const bytes = Buffer.from(body);
  const init = { method, url, rawHeaders: raw, hostHeaders: HOST_HEADERS, params: { id: '7' }, body: bytes };
  const headers = { ...flattenHeaders({ rawHeaders: raw }), ...HOST_HEADERS };
  const reference = new HttpRequest({
    method,
    url,
    headers,
    params: { id: '7' },
    // What the Functions host sends the worker for the query (GrpcMessageConversionExtensions.ToRpcHttp):
    // one entry per name, repeated values joined with a comma, decoded.
    query: QUERY_AS_THE_HOST_SENDS_IT[url] ?? {},
    ...(bytes.length > 0 ? { body: { bytes } } : {}),
  });
  return { ours: createHttpRequest(init), reference };
}

const shape = (r: HttpRequest) => ({
  url: r.url,
  method: r.method,
  headers: [...r.headers],
  query: [...r.query],
  params: r.params,
  user: r.user,
  bodyUsed: r.bodyUsed,
  hasBody: r.body !== null,
});

async function settle<T>(p: () => Promise<T>): Promise<{ ok: T } | { error: string }> {
  try {
    return { ok: await p() };
  } catch (error) {
    return { error: `${(error as Error).name}` };
  }
}

describe('createHttpRequest', () => {
  it.each([
    ['GET', 'http://127.0.0.1:7071/api/products/7', ''],
    ['GET', 'http://127.0.0.1:7071/api/products?x=1&x=2&y=%20z', ''],
    ['HEAD', 'http://127.0.0.1:7071/api/products', ''],
    ['DELETE', 'http://127.0.0.1:7071/api/cart', ''],
    ['POST', 'http://127.0.0.1:7071/api/echo', '{"a":[1,2]}'],
    ['PUT', 'http://127.0.0.1:7071/api/echo', 'not json'],
    ['PATCH', 'http://127.0.0.1:7071/api/echo', '\uFEFF{"bom":true}'],
    ['OPTIONS', 'http://127.0.0.1:7071/api/echo', ''],
    ['POST', 'http://127.0.0.1:7071/api/echo', ''],
  ])('%s %s %j: the same request as the public constructor builds', async (method, url, body) => {
    for (const read of ['text', 'json', 'arrayBuffer', 'blob'] as const) {
      const { ours, reference } = both(method, url, body);
      expect(ours).toBeInstanceOf(HttpRequest);
      expect(shape(ours)).toEqual(shape(reference));
      const a = await settle(async () => {
        const v = await ours[read]();
        return v instanceof Blob
          ? [v.type, await v.text()]
          : v instanceof ArrayBuffer
            ? [...new Uint8Array(v)]
            : v;
      });
      const b = await settle(async () => {
        const v = await reference[read]();
        return v instanceof Blob
          ? [v.type, await v.text()]
          : v instanceof ArrayBuffer
            ? [...new Uint8Array(v)]
            : v;
      });
      expect(a, read).toEqual(b);
      expect(shape(ours)).toEqual(shape(reference));
      // A second read fails alike (a used body), or gives the same again (no body).
      expect(await settle(() => ours.text())).toEqual(await settle(() => reference.text()));
    }
  });

  it('clones with the body and the headers as they are at the time', async () => {
    const { ours, reference } = both('POST', 'http://127.0.0.1:7071/api/echo', 'payload');
    ours.headers.set('x-added', '1');
    reference.headers.set('x-added', '1');
    const [a, b] = [ours.clone(), reference.clone()];
    expect(shape(a)).toEqual(shape(b));
    expect(await a.text()).toBe('payload');
    expect(await ours.text()).toBe('payload');
    expect(await b.text()).toBe('payload');
  });

  it('lets the host state x-client-ip over a client-sent one', () => {
    const { ours } = both('GET', 'http://127.0.0.1:7071/api/x', '');
    expect(ours.headers.get('x-client-ip')).toBe('127.0.0.1');
    expect(ours.headers.get('cookie')).toBe('a=1; b=2');
    expect(ours.headers.get('accept')).toBe('text/html, application/json');
  });

  it('treats headers named like Object.prototype members as headers', () => {
    const raw = ['Constructor', 'x', 'constructor', 'y', 'toString', 'z'];
    expect(flattenHeaders({ rawHeaders: raw })).toEqual({ constructor: 'x, y', tostring: 'z' });
    const { ours, reference } = both('GET', 'http://127.0.0.1:7071/api/x', '', raw);
    expect([...ours.headers]).toEqual([...reference.headers]);
  });

  it('leaves what the Request constructor refuses or drops to the public constructor', () => {
    expect(() => both('TRACE', 'http://127.0.0.1:7071/api/x', '').ours).toThrow(TypeError);
    const { ours, reference } = both('GET', 'http://127.0.0.1:7071/api/x', 'a body on a GET');
    expect(shape(ours)).toEqual(shape(reference));
    expect(ours.body).toBeNull();
  });
});

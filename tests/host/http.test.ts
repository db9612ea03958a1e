import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestBodyLimit, startHost, type LocalHost } from '../../infra/host/host.js';
import { hostQuery } from '../../infra/host/http-io.js';
import { testHostOptions, until } from './helpers.js';

const GUID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
let host: LocalHost;
let fixtures: typeof import('./fixtures/http-functions.js');

beforeAll(async () => {
  host = await startHost(
    testHostOptions({
      // The 413 tests below need a small limit; the default (100 MiB) is checked on its own.
      bodyLimit: 1024 * 1024,
      modules: [
        async () => {
          fixtures = await import('./fixtures/http-functions.js');
        },
      ],
    }),
  );
});

afterAll(async () => {
  await host?.stop();
});

describe('HTTP triggers through the local host', () => {
  it('registers the functions with their bindings and listens on the port it reports', () => {
    expect(host.port).toBeGreaterThan(0);
    expect(host.baseUrl).toBe(`http://127.0.0.1:${host.port}/api`);
    const echo = host.describe().find((f) => f.name === 'echo');
    expect(echo).toEqual({
      name: 'echo',
      trigger: 'http',
      detail: `[GET,POST] ${host.baseUrl}/echo/{n:int}/{label?}`,
    });
  });

  it('passes route params, query, body and real request objects to the handler', async () => {
    const res = await fetch(`${host.baseUrl}/echo/42/hello?x=1&y=2`, {
      method: 'POST',
      body: 'payload',
      headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.1', 'x-client-ip': '6.6.6.6' },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      functionName: 'echo',
      method: 'POST',
      params: { n: '42', label: 'hello' },
      query: { x: '1', y: '2' },
      body: 'payload',
      // The peer address overwrites a client-sent x-client-ip; X-Forwarded-For passes through untouched.
      clientIp: '127.0.0.1',
      forwardedFor: '203.0.113.9, 10.0.0.1',
    });
    expect(body.invocationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gives a request without query string or body an empty query and body', async () => {
    const plain = (await (await fetch(`${host.baseUrl}/echo/7`)).json()) as Record<string, unknown>;
    expect(plain).toMatchObject({ method: 'GET', query: {}, repeated: [], body: '' });
    const empty = (await (
      await fetch(`${host.baseUrl}/echo/7`, { method: 'POST', headers: { 'content-length': '0' } })
    ).json()) as Record<string, unknown>;
    expect(empty).toMatchObject({ method: 'POST', query: {}, body: '' });
  });

  it('gives the query as the Functions host does: repeated names joined with a comma, names case-insensitive', async () => {
    const read = async (search: string): Promise<Record<string, unknown>> =>
      (await (await fetch(`${host.baseUrl}/echo/7${search}`)).json()) as Record<string, unknown>;
    // One entry, its values joined by ',' (getAll sees one value), as a v4 function sees it on Azure.
    expect(await read('?x=1&x=2')).toMatchObject({ query: { x: '1,2' }, repeated: ['1,2'] });
    expect(await read('?x=1&X=2&y=a+b&flag&empty=')).toMatchObject({
      query: { x: '1,2', y: 'a b', flag: '', empty: '' },
      repeated: ['1,2'],
    });
    expect(await read('?x=&x=3&&x=%E2%82%AC')).toMatchObject({ repeated: [',3,€'] });
  });

  it('parses a query string like ASP.NET Core QueryHelpers (first spelling kept, broken escapes literal)', () => {
    expect(hostQuery('?Tag=a&tag=b&TAG=c')).toEqual({ Tag: 'a,b,c' });
    expect(hostQuery('a=%zz&b=%C3%A9%ZZ& c=1&=v')).toEqual({ a: '%zz', b: 'é%ZZ', c: '1', '': 'v' });
    expect(hostQuery('')).toEqual({});
  });

  it('omits an absent optional parameter', async () => {
    const body = (await (await fetch(`${host.baseUrl}/echo/7`)).json()) as { params: Record<string, string> };
    expect(body.params).toEqual({ n: '7' });
  });

  it('prefers literal segments and constrained parameters', async () => {
    const search = (await (await fetch(`${host.baseUrl}/items/search`)).json()) as { functionName: string };
    expect(search.functionName).toBe('itemSearch');
    const item = (await (await fetch(`${host.baseUrl}/items/${GUID}`)).json()) as { functionName: string };
    expect(item.functionName).toBe('itemGet');
    const del = (await (await fetch(`${host.baseUrl}/items/${GUID}`, { method: 'DELETE' })).json()) as {
      functionName: string;
    };
    expect(del.functionName).toBe('itemDelete');
    const files = (await (await fetch(`${host.baseUrl}/files/a/b/c.txt`)).json()) as { params: unknown };
    expect(files.params).toEqual({ path: 'a/b/c.txt' });
  });

  it('answers a bare 404 (empty body, no Content-Type) for unknown paths, failed constraints and other methods', async () => {
    const misses: [string, string][] = [
      ['GET', '/api/nope'],
      ['GET', '/api/echo/not-a-number'],
      ['GET', '/elsewhere'],
      ['GET', `/api/items/${GUID}/x`],
      // The path exists for GET and DELETE only: the real host's method constraint makes it a 404 too.
      ['PUT', `/api/items/${GUID}`],
      ['HEAD', `/api/items/${GUID}`],
    ];
    for (const [method, path] of misses) {
      const res = await fetch(`${host.url}${path}`, { method, ...(method === 'PUT' ? { body: '{}' } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('content-type'), path).toBeNull();
      expect(res.headers.get('allow'), path).toBeNull();
      expect(await res.text(), path).toBe('');
    }
  });

  it('serves the methods the library defaults to when a function lists none (GET, POST)', async () => {
    expect((await fetch(`${host.baseUrl}/any`, { method: 'POST', body: 'x' })).status).toBe(200);
    expect((await fetch(`${host.baseUrl}/any`, { method: 'PATCH', body: 'x' })).status).toBe(404);
  });

  it('asks for a key when a function is not anonymous (401, the handler does not run)', async () => {
    const url = `${host.baseUrl}/keyed`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { 'x-functions-key': 'nope' } })).status).toBe(401);
    expect((await fetch(`${url}?code=${host.keys.durableTask}`)).status).toBe(401);
    expect((await fetch(url, { headers: { 'x-functions-key': host.keys.master } })).status).toBe(200);
    expect((await fetch(`${url}?code=${encodeURIComponent(host.keys.master)}`)).status).toBe(200);
  });

  it('limits request bodies like the Functions host: 100 MiB, or FUNCTIONS_REQUEST_BODY_SIZE_LIMIT', () => {
    expect(requestBodyLimit({})).toBe(104_857_600);
    expect(requestBodyLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '2048' })).toBe(2048);
    expect(requestBodyLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: 'lots' })).toBe(104_857_600);
  });

  it('refuses bodies over 1 MiB with 413 before the handler runs', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 97);
    const res = await fetch(`${host.baseUrl}/echo/1`, { method: 'POST', body: big });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBeNull();
    // Exactly at the limit is fine.
    const ok = await fetch(`${host.baseUrl}/echo/1`, { method: 'POST', body: Buffer.alloc(1024 * 1024, 97) });
    expect(ok.status).toBe(200);
  });

  it('refuses an oversized chunked body (no Content-Length) as it streams in', async () => {
    const chunk = Buffer.alloc(256 * 1024, 98);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 6; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await fetch(`${host.baseUrl}/echo/1`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it('streams response bodies chunk by chunk', async () => {
    const res = await fetch(`${host.baseUrl}/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(await res.text()).toBe('chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n');
  });

  it('sends status, headers and cookies', async () => {
    const res = await fetch(`${host.baseUrl}/cookies`);
    expect(res.status).toBe(201);
    expect(res.headers.get('x-custom')).toBe('yes');
    expect(res.headers.getSetCookie()).toEqual(['session=abc; Path=/; HttpOnly']);
    expect(await res.text()).toBe('cookie set');
  });

  it("turns a throwing handler into a bare 500, as the host's ExceptionMiddleware does", async () => {
    const res = await fetch(`${host.baseUrl}/boom`);
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBeNull();
    expect(await res.text()).toBe('');
  });

  it('writes extraOutputs: a Service Bus output array becomes one message per element', async () => {
    const res = await fetch(`${host.baseUrl}/enqueue`, {
      method: 'POST',
      body: JSON.stringify([{ n: 1 }, { n: 2 }]),
    });
    expect(res.status).toBe(202);
    await until(() => (fixtures.received.length === 2 ? true : undefined), { what: 'both messages' });
    expect(fixtures.received).toEqual([{ n: 1 }, { n: 2 }]);
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight requests, refuses new ones, then stops listening', async () => {
    const local = await startHost(testHostOptions());
    const inFlight = fetch(`${local.baseUrl}/slow/300`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopping = local.stop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const refused = await fetch(`${local.baseUrl}/echo/1`).catch(() => undefined);
    // Either a 503 (the listener is still draining) or a refused connection: never the handler.
    if (refused) expect(refused.status).toBe(503);
    const slow = await inFlight;
    expect(slow.status).toBe(200);
    expect(await slow.json()).toEqual({ slept: 300 });
    await stopping;
    await expect(fetch(`${local.baseUrl}/echo/1`)).rejects.toThrow();
  });
});

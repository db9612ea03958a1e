import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { requestTarget, requestUrl } from '../../infra/host/http-server.js';
import { compileRoute, RouteTable } from '../../infra/host/routing.js';

const GUID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';

describe('route templates', () => {
  const cases: [template: string, path: string, expected: Record<string, string> | undefined][] = [
    ['products', '/products', {}],
    ['products', '/Products/', {}],
    ['products', '/products/x', undefined],
    ['products/{id}', '/products/abc', { id: 'abc' }],
    ['products/{id}', '/products', undefined],
    ['products/{id}', '/products/a%20b', { id: 'a b' }],
    ['products/{id:guid}', `/products/${GUID}`, { id: GUID }],
    ['products/{id:guid}', `/products/${GUID.replace(/-/g, '')}`, { id: GUID.replace(/-/g, '') }],
    ['products/{id:guid}', '/products/not-a-guid', undefined],
    ['orders/{n:int}', '/orders/42', { n: '42' }],
    ['orders/{n:int}', '/orders/-7', { n: '-7' }],
    ['orders/{n:int}', '/orders/4.2', undefined],
    ['orders/{n:int}', '/orders/99999999999', undefined],
    ['orders/{n:long}', '/orders/99999999999', { n: '99999999999' }],
    ['orders/{n:int:min(1)}', '/orders/0', undefined],
    ['orders/{n:int:range(1,10)}', '/orders/10', { n: '10' }],
    ['flags/{on:bool}', '/flags/TRUE', { on: 'TRUE' }],
    ['names/{name:alpha:maxlength(3)}', '/names/abc', { name: 'abc' }],
    ['names/{name:alpha:maxlength(3)}', '/names/abcd', undefined],
    ['codes/{code:regex(^\\d{{3}}$)}', '/codes/123', { code: '123' }],
    ['codes/{code:regex(^\\d{{3}}$)}', '/codes/1234', undefined],
    ['cart/{x?}', '/cart', {}],
    ['cart/{x?}', '/cart/5', { x: '5' }],
    ['page/{n:int?}', '/page/abc', undefined],
    ['page/{n=1}', '/page', { n: '1' }],
    ['page/{n=1}', '/page/3', { n: '3' }],
    ['files/{*rest}', '/files', {}],
    ['files/{*rest}', '/files/a/b/c.txt', { rest: 'a/b/c.txt' }],
    ['files/{**rest}', '/files/a/b', { rest: 'a/b' }],
    ['docs/{name}.{ext}', '/docs/report.final.pdf', { name: 'report.final', ext: 'pdf' }],
    ['docs/{name}.{ext}', '/docs/report', undefined],
    ['', '/', {}],
  ];

  it.each(cases)('%s matches %s → %j', (template, path, expected) => {
    expect(compileRoute(template).match(path)).toEqual(expected);
  });

  it.each(['a/{*rest}/b', 'a/{x}/{x}', 'a/{bad-name}', 'a/{id:nope}', 'a/{x'])(
    'rejects invalid template %s',
    (t) => {
      expect(() => compileRoute(t)).toThrow();
    },
  );
});

describe('route table', () => {
  const table = new RouteTable<string>();
  table.add('items/{id:guid}', ['GET'], 'itemGet');
  table.add('items/{id:guid}', ['DELETE'], 'itemDelete');
  table.add('items/search', ['GET'], 'itemSearch');
  table.add('items/{slug}', ['GET'], 'itemBySlug');
  table.add('any', undefined, 'anyMethod');
  table.add('files/{*path}', ['GET'], 'files');

  it.each([
    ['GET', `/items/${GUID}`, 'itemGet'],
    ['delete', `/items/${GUID}`, 'itemDelete'],
    // A literal segment beats a parameter, a constrained parameter beats a plain one (ASP.NET precedence).
    ['GET', '/items/search', 'itemSearch'],
    ['GET', '/items/red-shoe', 'itemBySlug'],
    ['PATCH', '/any', 'anyMethod'],
    ['GET', '/files/x/y', 'files'],
  ])('%s %s → %s', (method, path, target) => {
    const match = table.match(method, path);
    expect(match.kind).toBe('match');
    expect(match.kind === 'match' && match.target).toBe(target);
  });

  it('answers 405 with the allowed methods when only the method is wrong', () => {
    expect(table.match('PUT', `/items/${GUID}`)).toEqual({
      kind: 'method-not-allowed',
      allowed: ['DELETE', 'GET'],
    });
  });

  it('answers 404 when no template matches the path', () => {
    expect(table.match('GET', '/nothing/here')).toEqual({ kind: 'not-found' });
  });
});

describe('request URL', () => {
  // What the host did before the one-parse shortcut, and must still give (or throw) for every target
  // and Host header.
  const outcome = (parse: () => URL): string => {
    try {
      return parse().href;
    } catch {
      return 'throws';
    }
  };
  const twoParses = (target: string, host: string | undefined): string =>
    outcome(() => {
      try {
        return new URL(target, `http://${host ?? '127.0.0.1:7071'}`);
      } catch {
        return new URL(target, 'http://127.0.0.1:7071');
      }
    });
  const of = (target: string, host: string | undefined): string =>
    outcome(() => requestUrl({ url: target, headers: host === undefined ? {} : { host } }, '127.0.0.1:7071'));

  it('resolves every target against the Host header exactly as a base-relative parse would', () => {
    const targets = [
      '/',
      '/api/products/abc?x=1&x=2',
      '/api/a/../b/./c',
      '/api/%2e%2e/x',
      '/api/a b',
      '/api/ü?q=ü#frag',
      '//evil.example/x',
      '/\\evil.example/x',
      '/\t/evil.example/x',
      '\\\\evil.example',
      'http://other.example/x',
      '*',
      '/api/x\t/y',
      '/api/x?a=%zz',
    ];
    const hosts = [
      undefined,
      '127.0.0.1:7071',
      'localhost',
      '[::1]:80',
      'a@b',
      'x/y',
      'bad host',
      'h:99999',
      '',
    ];
    for (const target of targets)
      for (const host of hosts) expect(of(target, host), `${target} @ ${host}`).toBe(twoParses(target, host));
  });

  it('agrees with a base-relative parse on generated targets', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[/\\\t?#%.a-zA-Z0-9 :@ü-]{0,12}$/),
        fc.constantFrom('127.0.0.1:7071', 'localhost:1', '[::1]', 'x/y', 'a@b'),
        (path, host) => {
          const target = `/${path}`;
          expect(of(target, host)).toBe(twoParses(target, host));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  // The shortcut that skips the parse must give what the parse gives, for any target and Host.
  const viaTarget = (target: string, host: string | undefined): string => {
    try {
      const t = requestTarget({ url: target, headers: host === undefined ? {} : { host } }, '127.0.0.1:7071');
      return `${t.href} ${t.pathname}`;
    } catch {
      return 'throws';
    }
  };
  const viaUrl = (target: string, host: string | undefined): string => {
    try {
      const url = requestUrl({ url: target, headers: host === undefined ? {} : { host } }, '127.0.0.1:7071');
      return `${url.href} ${url.pathname}`;
    } catch {
      return 'throws';
    }
  };

  it('gives the href and pathname of the parsed URL without parsing plain targets', () => {
    const targets = [
      '/',
      '/api/products/3f2504e0-4f89-11d3-9a0c-0305e82c3301',
      '/api/products?pageSize=20&sort=newest',
      '/api/x?',
      '/api/x??a=b?c',
      '/api/./x',
      '/api/../x',
      '/api/x/..',
      '/api/x/.?a',
      '/api/.hidden/..x/x..',
      '/api//x',
      '//x',
      "/api/it's?q='",
      '/api/%2e%2e/x',
      '/api/X:y@z;a=b,c!$&()*+~',
      '/api/x#frag',
    ];
    const hosts = [
      undefined,
      '127.0.0.1:7071',
      'localhost',
      'localhost:80',
      'localhost:080',
      'localhost:0',
      'localhost:65535',
      'localhost:65536',
      'LocalHost:1',
      'shop.example.com',
      'a-.b--c.d',
      'xn--nxasmq6b.example',
      '1.2.3.4',
      '01.2.3.4',
      '1.2.3',
      '0x7f.1',
      '256.1.1.1',
      'x.123',
      'host.',
      '[::1]:7071',
      'a@b',
      '',
    ];
    for (const target of targets)
      for (const host of hosts)
        expect(viaTarget(target, host), `${target} @ ${host}`).toBe(viaUrl(target, host));
  });

  it('agrees with the parsed URL on generated targets and hosts', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[/\\?#%.a-zA-Z0-9 :@'~!$&()*+,;=-]{0,14}$/),
        fc.stringMatching(/^[a-zA-Z0-9.:[\]-]{0,14}$/),
        (path, host) => {
          expect(viaTarget(`/${path}`, host)).toBe(viaUrl(`/${path}`, host));
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import { HttpRequest } from '@azure/functions';
import { clientIp } from '../../functions/lib/client-ip.js';

const req = (headers: Record<string, string>) =>
  new HttpRequest({ method: 'GET', url: 'http://x/api', headers });

describe('client IP behind trusted proxies', () => {
  it.each([
    [{ 'x-client-ip': '10.0.0.1', 'x-forwarded-for': '6.6.6.6' }, 0, '10.0.0.1'],
    [{ 'x-client-ip': '10.0.0.1', 'x-forwarded-for': '6.6.6.6, 203.0.113.9:5123' }, 1, '203.0.113.9'],
    [{ 'x-client-ip': '10.0.0.1', 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.1.1' }, 2, '203.0.113.9'],
    [{ 'x-client-ip': '10.0.0.1', 'x-forwarded-for': '203.0.113.9' }, 3, '203.0.113.9'],
    [{ 'x-client-ip': '[2001:db8::1]:443' }, 0, '2001:db8::1'],
    [{}, 1, 'unknown'],
  ])('%o with %i hops → %s', (headers, hops, expected) => {
    expect(clientIp(req(headers), hops)).toBe(expected);
  });
});

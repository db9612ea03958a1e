import type { HttpRequest } from '@azure/functions';

/** Azure's front ends write `ip:port`; compare addresses without the port. */
function stripPort(entry: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed) return bracketed[1]!;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(entry);
  return v4 ? v4[1]! : entry;
}

/**
 * The client's address, counted like Express' `trust proxy = hops`: with N trusted proxies, the client is
 * the N-th X-Forwarded-For entry from the right; entries further left were written by the client and
 * can be forged. With 0 hops the header is ignored and the connection's own address is used — which
 * the platform (App Service's front end, or the local host) passes as `x-client-ip`, overwriting any
 * value the client sent.
 */
export function clientIp(request: HttpRequest, trustedHops: number): string {
  const peer = stripPort(request.headers.get('x-client-ip')?.trim() || 'unknown');
  if (trustedHops <= 0) return peer;
  const chain = (request.headers.get('x-forwarded-for') ?? '')
    .split(',')
    .map((entry) => stripPort(entry.trim()))
    .filter(Boolean);
  if (chain.length === 0) return peer;
  const index = chain.length - trustedHops;
  return chain[Math.max(0, index)] ?? peer;
}

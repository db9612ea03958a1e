import { isIPv4, isIPv6 } from 'node:net';

/**
 * The rate-limit key of a client address. IPv4 is the address itself. IPv6 is its /64 network: one
 * subscriber line or cloud VM usually owns a whole /64 and can pick any of its 2^64 addresses, so a
 * per-address key would give an attacker an unlimited supply of fresh budgets. IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`) is the IPv4 address, so one client has one key whichever way its address is written.
 * Anything else (the pipeline's `unknown`, a hostname) is used as-is, lower-cased.
 */
export function clientKey(address: string): string {
  const text = address.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv4(text)) return text;
  const withoutZone = text.replace(/%.*$/, '');
  if (!isIPv6(withoutZone)) return text;
  return `${expandIpv6(withoutZone).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (already validated), without leading zeros. */
function expandIpv6(address: string): string[] {
  let text = address;
  // A trailing dotted quad (`::1.2.3.4`) is two groups.
  const quad = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, quad.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((group) =>
    parseInt(group, 16).toString(16),
  );
}

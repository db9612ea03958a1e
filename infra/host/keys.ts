import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The host keys that guard the Functions host's own routes. On Azure the master key opens `/admin/…`
 * (policy AdminAuthLevel) and the extension's system key — named `durabletask_extension` — or the
 * master key opens `/runtime/webhooks/durabletask/…` (policy SystemKeyAuthLevel): azure-functions-host
 * `src/WebJobs.Script.WebHost/Controllers/HostController.cs`. The key comes in the `x-functions-key`
 * header or, when that header is absent, the `code` query parameter (first value each):
 * `Security/Authentication/Keys/AuthenticationLevelHandler.cs`. A request without a valid key gets
 * 401 with an empty body. Locally the keys are generated at each start and printed.
 */
export interface HostKeys {
  master: string;
  /** The system key `durabletask_extension`. */
  durableTask: string;
}

/** 40 random bytes, base64url: the length and alphabet of the keys the host generates. */
const newKey = (): string => randomBytes(40).toString('base64url');

export function generateHostKeys(): HostKeys {
  return { master: newKey(), durableTask: newKey() };
}

/** The key a request presents: the header wins over the query string, as in the host. */
export function presentedKey(url: URL, headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-functions-key'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader !== undefined) return fromHeader;
  return url.searchParams.get('code') ?? undefined;
}

function sameKey(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether the request carries one of `accepted` (compared in constant time). */
export function authorized(url: URL, headers: IncomingHttpHeaders, accepted: readonly string[]): boolean {
  const key = presentedKey(url, headers);
  return key !== undefined && key !== '' && accepted.some((k) => sameKey(key, k));
}

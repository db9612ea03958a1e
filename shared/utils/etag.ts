import { ValidationException } from '../errors/index.js';

/**
 * Entity tags of versioned rows (carts, products): a row's `version` column, an int4 that every change
 * bumps, is sent as the strong tag `"v<version>"`.
 *
 * What an `If-Match` header asks for: `any` (`*`: the resource has a current representation — a cart
 * always has one, even when empty; a product while it exists) or one of the listed versions. Versions
 * that cannot exist (weak tags, foreign formats, numbers beyond the column's range) are simply absent,
 * so they never match: the answer is 412.
 */
export type VersionCondition = { kind: 'any' } | { kind: 'versions'; versions: number[] };

const MAX_VERSION = 2_147_483_647; // version columns are int4

/** The strong entity tag of a version. Versions never go back, so a tag is never reused. */
export function formatEtag(version: number): string {
  return `"v${version}"`;
}

// RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/;

function splitList(header: string): string[] {
  return header
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

function versionOf(opaque: string): number | undefined {
  const match = /^v(0|[1-9][0-9]{0,9})$/.exec(opaque);
  if (!match) return undefined;
  const version = Number(match[1]);
  return version <= MAX_VERSION ? version : undefined;
}

function invalid(header: string): ValidationException {
  return new ValidationException([
    { field: `header.${header}`, message: 'must be * or a list of entity tags such as "v3"' },
  ]);
}

/**
 * Parses `If-Match` (absent → undefined). A malformed header is a 400: guessing what the client meant
 * could apply a change it wanted guarded. Comparison is strong (RFC 9110 §13.1.1), so weak tags never match.
 */
export function parseIfMatch(header: string | null | undefined): VersionCondition | undefined {
  if (header === null || header === undefined) return undefined;
  const parts = splitList(header);
  if (parts.length === 0) throw invalid('If-Match');
  if (parts.length === 1 && parts[0] === '*') return { kind: 'any' };
  const versions = new Set<number>();
  for (const part of parts) {
    const match = ENTITY_TAG.exec(part);
    if (!match) throw invalid('If-Match');
    if (match[1]) continue;
    const version = versionOf(match[2]!);
    if (version !== undefined) versions.add(version);
  }
  return { kind: 'versions', versions: [...versions] };
}

/** `If-None-Match` for a GET: weak comparison (RFC 9110 §13.1.2); malformed → treated as absent. */
export function ifNoneMatchHits(header: string | null | undefined, version: number): boolean {
  if (!header) return false;
  const parts = splitList(header);
  if (parts.length === 1 && parts[0] === '*') return true;
  return parts.some((part) => {
    const match = ENTITY_TAG.exec(part);
    return match !== null && versionOf(match[2]!) === version;
  });
}

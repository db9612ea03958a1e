// Stripe's v1 API takes application/x-www-form-urlencoded bodies (and query strings) with bracketed keys:
// `metadata[order_id]=o1&expand[0]=latest_charge&automatic_payment_methods[enabled]=true`. stripe-node
// writes arrays as `a[0]=…`; curl users write `a[]=…`. Both decode to arrays here.
import { invalidParam } from './errors.js';

export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

// Keys that would let a request body reach Object.prototype through the decoded tree.
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

function splitKey(raw: string): string[] {
  const open = raw.indexOf('[');
  if (open <= 0 || !raw.endsWith(']')) return [raw];
  const parts = [raw.slice(0, open)];
  const rest = raw.slice(open);
  const re = /\[([^[\]]*)\]/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(rest)) !== null) {
    parts.push(m[1] ?? '');
    consumed = re.lastIndex;
  }
  // Malformed brackets (`a[b]c]`): treat the whole thing as one flat key rather than guess.
  return consumed === rest.length ? parts : [raw];
}

/** Containers are built as objects keyed by segment, then objects whose keys are 0..n-1 become arrays. */
function arrayify(value: FormValue): FormValue {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(arrayify);
  const keys = Object.keys(value);
  const out: FormObject = {};
  for (const k of keys) out[k] = arrayify(value[k]!);
  const isList = keys.length > 0 && keys.every((k, i) => k === String(i));
  return isList ? keys.map((k) => out[k]!) : out;
}

/** Decodes a form body or query string into a nested tree of strings. Later duplicates of a scalar win. */
export function decodeStripeForm(text: string): FormObject {
  const root: FormObject = {};
  const search = new URLSearchParams(text);
  for (const [rawKey, value] of search) {
    const path = splitKey(rawKey);
    if (path.some((p) => FORBIDDEN.has(p))) continue;
    let node: FormObject = root;
    for (let i = 0; i < path.length; i++) {
      let seg = path[i]!;
      const last = i === path.length - 1;
      if (seg === '') seg = String(Object.keys(node).length); // `a[]=x` appends
      if (last) {
        node[seg] = value;
        break;
      }
      const next = node[seg];
      if (next === undefined || typeof next === 'string' || Array.isArray(next)) {
        const created: FormObject = {};
        node[seg] = created;
        node = created;
      } else {
        node = next;
      }
    }
  }
  return arrayify(root) as FormObject;
}

/** JSON with object keys sorted, so two bodies with the same parameters in another order compare equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Typed reads of decoded parameters. Every failure is the 400 `invalid_request_error` Stripe would answer,
 * naming the parameter, so the SDK surfaces `err.param`.
 */
export class Params {
  constructor(readonly raw: FormObject) {}

  has(name: string): boolean {
    return this.raw[name] !== undefined;
  }

  string(name: string): string | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw invalidParam(name, `Invalid string: ${name} must be a string.`);
    return v;
  }

  /** A string where Stripe treats `''` as "unset". */
  optionalString(name: string): string | null | undefined {
    const v = this.string(name);
    return v === '' ? null : v;
  }

  integer(name: string): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
      throw invalidParam(name, `Invalid integer: ${v}`);
    }
    return Number(v);
  }

  boolean(name: string): boolean | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw invalidParam(name, `Invalid boolean: ${v}`);
    return v === 'true';
  }

  object(name: string): Params | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    if (v === '') return new Params({});
    if (typeof v === 'string' || Array.isArray(v)) throw invalidParam(name, `Invalid object: ${name}`);
    return new Params(v);
  }

  stringList(name: string): string[] | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
      throw invalidParam(name, `Invalid array: ${name}`);
    return v as string[];
  }

  /**
   * Stripe metadata: string values only, at most 50 keys; `metadata[k]=` deletes key k on update and
   * `metadata=` clears everything. Returns null for "clear all".
   */
  metadata(name = 'metadata'): Record<string, string | null> | null | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    if (v === '') return null;
    if (typeof v === 'string') throw invalidParam(name, 'Invalid metadata: must be an object of strings.');
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    if (entries.length > 50) throw invalidParam(name, 'Invalid metadata: at most 50 keys are allowed.');
    const out: Record<string, string | null> = {};
    for (const [k, val] of entries) {
      if (typeof val !== 'string')
        throw invalidParam(`${name}[${k}]`, 'Invalid metadata value: must be a string.');
      if (k.length > 40) throw invalidParam(`${name}[${k}]`, 'Metadata keys can be at most 40 characters.');
      if (val.length > 500)
        throw invalidParam(`${name}[${k}]`, 'Metadata values can be at most 500 characters.');
      out[k] = val === '' ? null : val;
    }
    return out;
  }
}

/** Applies a metadata update (see Params.metadata) to the current metadata. */
export function mergeMetadata(
  current: Record<string, string>,
  update: Record<string, string | null> | null | undefined,
): Record<string, string> {
  if (update === undefined) return current;
  if (update === null) return {};
  const next = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  return next;
}

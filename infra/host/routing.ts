/**
 * ASP.NET Core route templates, the syntax Azure Functions routes use: literal segments, `{name}`,
 * constrained `{id:guid}` / `{n:int:min(1)}`, optional `{x?}`, defaults `{x=1}`, catch-all `{*rest}`,
 * and complex segments such as `{name}.{ext}`. Matching is case-insensitive for literals; among several
 * matching templates the most specific wins (literal > complex > constrained > plain > catch-all), as in
 * ASP.NET's route precedence.
 */

export interface RouteParameter {
  name: string;
  constraints: Constraint[];
  optional: boolean;
  catchAll: boolean;
  defaultValue?: string;
}

interface Constraint {
  text: string;
  test: (value: string) => boolean;
}

type Part = { literal: string } | { parameter: RouteParameter };

export interface CompiledRoute {
  template: string;
  parameters: RouteParameter[];
  /** Lower sorts first: one digit per segment (1 literal … 5 catch-all). */
  precedence: number[];
  match(path: string): Record<string, string> | undefined;
}

const INT32 = { min: -2147483648n, max: 2147483647n };
const INT64 = { min: -9223372036854775808n, max: 9223372036854775807n };

function integerIn(range: { min: bigint; max: bigint }): (v: string) => boolean {
  return (v) => /^[-+]?\d+$/.test(v) && BigInt(v) >= range.min && BigInt(v) <= range.max;
}

function asLong(v: string): bigint | undefined {
  return integerIn(INT64)(v) ? BigInt(v) : undefined;
}

function numberArgs(name: string, args: string | undefined, count: number[]): bigint[] {
  const parts = (args ?? '').split(',').map((a) => a.trim());
  if (!count.includes(parts.length) || parts.some((p) => !/^[-+]?\d+$/.test(p)))
    throw new Error(`Route constraint "${name}" needs ${count.join(' or ')} integer argument(s)`);
  return parts.map((p) => BigInt(p));
}

const GUID = [
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  /^[0-9a-f]{32}$/i,
  /^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$/i,
  /^\([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\)$/i,
];
const FLOAT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function buildConstraint(text: string): Constraint {
  const m = /^([A-Za-z]+)(?:\((.*)\))?$/s.exec(text);
  if (!m) throw new Error(`Invalid route constraint "${text}"`);
  const name = m[1]!.toLowerCase();
  const args = m[2];
  let test: (v: string) => boolean;
  switch (name) {
    case 'int':
      test = integerIn(INT32);
      break;
    case 'long':
      test = integerIn(INT64);
      break;
    case 'bool':
      test = (v) => /^(true|false)$/i.test(v);
      break;
    case 'guid':
      test = (v) => GUID.some((re) => re.test(v));
      break;
    case 'datetime':
      test = (v) => !Number.isNaN(Date.parse(v));
      break;
    case 'decimal':
      test = (v) => /^[-+]?(\d+\.?\d*|\.\d+)$/.test(v);
      break;
    case 'double':
    case 'float':
      test = (v) => FLOAT.test(v);
      break;
    case 'alpha':
      test = (v) => /^[a-z]+$/i.test(v);
      break;
    case 'required':
      test = (v) => v.length > 0;
      break;
    case 'min': {
      const [min] = numberArgs(name, args, [1]);
      test = (v) => (asLong(v) ?? min! - 1n) >= min!;
      break;
    }
    case 'max': {
      const [max] = numberArgs(name, args, [1]);
      test = (v) => (asLong(v) ?? max! + 1n) <= max!;
      break;
    }
    case 'range': {
      const [min, max] = numberArgs(name, args, [2]);
      test = (v) => {
        const n = asLong(v);
        return n !== undefined && n >= min! && n <= max!;
      };
      break;
    }
    case 'length': {
      const bounds = numberArgs(name, args, [1, 2]);
      const [lo, hi] = bounds.length === 1 ? [bounds[0]!, bounds[0]!] : [bounds[0]!, bounds[1]!];
      test = (v) => BigInt(v.length) >= lo && BigInt(v.length) <= hi;
      break;
    }
    case 'minlength': {
      const [lo] = numberArgs(name, args, [1]);
      test = (v) => BigInt(v.length) >= lo!;
      break;
    }
    case 'maxlength': {
      const [hi] = numberArgs(name, args, [1]);
      test = (v) => BigInt(v.length) <= hi!;
      break;
    }
    case 'regex': {
      if (!args) throw new Error('Route constraint "regex" needs a pattern');
      // ASP.NET escapes braces in templates by doubling them.
      const re = new RegExp(args.replace(/\{\{/g, '{').replace(/\}\}/g, '}'), 'i');
      test = (v) => re.test(v);
      break;
    }
    default:
      throw new Error(`Unknown route constraint "${text}"`);
  }
  return { text, test };
}

/** Finds the `}` closing the parameter that starts at `start` (skipping parentheses and doubled braces). */
function closingBrace(segment: string, start: number): number {
  let depth = 0;
  for (let i = start + 1; i < segment.length; i++) {
    const ch = segment[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    else if (ch === '}' && segment[i + 1] === '}' && depth > 0) i++;
    else if (ch === '}' && depth === 0) return i;
  }
  throw new Error(`Unclosed "{" in route segment "${segment}"`);
}

/** Splits `name:c1:c2(args)?` on colons outside parentheses. */
function splitConstraints(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of body) {
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ':' && depth === 0) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

function parseParameter(body: string): RouteParameter {
  let text = body;
  const catchAll = text.startsWith('*');
  text = text.replace(/^\*{1,2}/, '');
  let optional = false;
  let defaultValue: string | undefined;
  // `?` and `=default` sit after the constraints, outside any parentheses.
  const [head, ...constraintTexts] = splitConstraints(text);
  let last = constraintTexts.length > 0 ? constraintTexts[constraintTexts.length - 1]! : head!;
  const eq = last.lastIndexOf('=');
  if (eq >= 0 && !last.slice(eq).includes(')')) {
    defaultValue = last.slice(eq + 1);
    last = last.slice(0, eq);
  }
  if (last.endsWith('?') && !last.endsWith('\\?')) {
    optional = true;
    last = last.slice(0, -1);
  }
  if (constraintTexts.length > 0) constraintTexts[constraintTexts.length - 1] = last;
  const name = constraintTexts.length > 0 ? head! : last;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`Invalid route parameter name "${name}"`);
  return {
    name,
    constraints: constraintTexts.map(buildConstraint),
    optional: optional || catchAll,
    catchAll,
    ...(defaultValue !== undefined ? { defaultValue } : {}),
  };
}

function parseSegment(segment: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch === '{' && segment[i + 1] === '{') {
      literal += '{';
      i++;
    } else if (ch === '}' && segment[i + 1] === '}') {
      literal += '}';
      i++;
    } else if (ch === '{') {
      if (literal) parts.push({ literal });
      literal = '';
      const end = closingBrace(segment, i);
      parts.push({ parameter: parseParameter(segment.slice(i + 1, end)) });
      i = end;
    } else literal += ch;
  }
  if (literal) parts.push({ literal });
  return parts;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Compiles a template (without the route prefix), e.g. `products/{id:guid}/reviews`. */
export function compileRoute(template: string): CompiledRoute {
  const clean = template.replace(/^~?\/+|\/+$/g, '');
  const segments = clean === '' ? [] : clean.split('/');
  const parameters: RouteParameter[] = [];
  const precedence: number[] = [];
  let pattern = '';
  segments.forEach((segment, index) => {
    const parts = parseSegment(segment);
    if (parts.length === 0) throw new Error(`Empty segment in route "${template}"`);
    const params = parts.flatMap((p) => ('parameter' in p ? [p.parameter] : []));
    for (const p of params) {
      if (parameters.some((q) => q.name.toLowerCase() === p.name.toLowerCase()))
        throw new Error(`Route "${template}" uses parameter "${p.name}" twice`);
      parameters.push(p);
    }
    const only = parts.length === 1 && 'parameter' in parts[0]! ? parts[0].parameter : undefined;
    if (only?.catchAll) {
      if (index !== segments.length - 1)
        throw new Error(`Catch-all must be the last segment in "${template}"`);
      pattern += '(?:/(.*))?';
      precedence.push(5);
    } else if (only && (only.optional || only.defaultValue !== undefined)) {
      pattern += '(?:/([^/]+))?';
      precedence.push(only.constraints.length > 0 ? 3 : 4);
    } else if (only) {
      pattern += '/([^/]+)';
      precedence.push(only.constraints.length > 0 ? 3 : 4);
    } else {
      if (params.some((p) => p.catchAll || p.optional))
        throw new Error(`Optional and catch-all parameters must fill a whole segment in "${template}"`);
      // Greedy captures match complex segments right to left, as ASP.NET does (`{a}.{b}` on x.y.z: a=x.y).
      pattern += '/' + parts.map((p) => ('literal' in p ? escape(p.literal) : '([^/]+)')).join('');
      precedence.push(params.length === 0 ? 1 : 2);
    }
  });
  const regex = new RegExp(`^${pattern || ''}/?$`, 'i');
  return {
    template,
    parameters,
    precedence,
    match(path: string): Record<string, string> | undefined {
      const normalized = path === '' ? '/' : path.startsWith('/') ? path : `/${path}`;
      const m = regex.exec(normalized);
      if (!m) return undefined;
      const values: Record<string, string> = {};
      for (let i = 0; i < parameters.length; i++) {
        const parameter = parameters[i]!;
        const raw = m[i + 1];
        if (raw === undefined || raw === '') {
          if (parameter.defaultValue !== undefined) values[parameter.name] = parameter.defaultValue;
          else if (!parameter.optional) return undefined;
          continue;
        }
        const value = raw.includes('%') ? safeDecode(raw) : raw;
        if (!parameter.constraints.every((c) => c.test(value))) return undefined;
        values[parameter.name] = value;
      }
      return values;
    },
  };
}

function comparePrecedence(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export type RouteMatch<T> =
  | { kind: 'match'; target: T; params: Record<string, string>; route: CompiledRoute }
  | { kind: 'method-not-allowed'; allowed: string[] }
  | { kind: 'not-found' };

interface Entry<T> {
  route: CompiledRoute;
  /** Upper-case; undefined = every method. */
  methods: string[] | undefined;
  target: T;
}

/** The host's HTTP route table: path match first, then method (405 with `Allow` when only the method is off). */
export class RouteTable<T> {
  #entries: Entry<T>[] = [];

  add(template: string, methods: readonly string[] | undefined, target: T): CompiledRoute {
    const route = compileRoute(template);
    const upper = methods && methods.length > 0 ? methods.map((m) => m.toUpperCase()) : undefined;
    this.#entries.push({ route, methods: upper, target });
    this.#entries.sort((a, b) => comparePrecedence(a.route.precedence, b.route.precedence));
    return route;
  }

  get size(): number {
    return this.#entries.length;
  }

  match(method: string, path: string): RouteMatch<T> {
    const verb = method.toUpperCase();
    let allowed: Set<string> | undefined;
    for (const entry of this.#entries) {
      const params = entry.route.match(path);
      if (!params) continue;
      if (!entry.methods || entry.methods.includes(verb))
        return { kind: 'match', target: entry.target, params, route: entry.route };
      allowed ??= new Set();
      for (const m of entry.methods) allowed.add(m);
    }
    return allowed ? { kind: 'method-not-allowed', allowed: [...allowed].sort() } : { kind: 'not-found' };
  }
}

import type { RegisteredFunction } from './types.js';

/**
 * The checks the Functions host runs on every HTTP function before it maps a route
 * (azure-functions-host `src/WebJobs.Script/Host/ScriptHost.cs`: `ValidateHttpFunction`,
 * `HttpRoutesConflict`; asserted in `test/WebJobs.Script.Tests/ScriptHostTests.cs`). A function that
 * fails one is put in error and not loaded; the other functions run. Messages are the host's own, so
 * a log search for them finds the same line locally and on Azure.
 */
export const RESERVED_ROUTE_MESSAGE = 'The specified route conflicts with one or more built in routes.';

/** The route the host maps: the trigger's route, or the function name when it is empty or blank. */
export function effectiveRoute(fn: Pick<RegisteredFunction, 'name' | 'trigger'>): string {
  const route = fn.trigger.route;
  return typeof route === 'string' && route.trim() !== '' ? route : fn.name;
}

/**
 * Whether the route lies in the host's own route space. The host compares a string prefix of the
 * trimmed, lower-cased route — not a segment — so `administration/x` and `runtimes` are refused too,
 * and the route prefix (`api`) plays no part.
 */
export function isReservedRoute(route: string): boolean {
  const text = route.replace(/^\/+|\/+$/g, '').toLowerCase();
  return text.startsWith('admin') || text.startsWith('runtime');
}

function methodsOf(fn: RegisteredFunction): string[] {
  const methods = fn.trigger.methods;
  return Array.isArray(methods) ? (methods as unknown[]).map((m) => String(m).toUpperCase()) : [];
}

/** Same route text (trimmed of slashes, case-insensitive) and a method in common; none = every method. */
function routesConflict(a: RegisteredFunction, b: RegisteredFunction): boolean {
  const trim = (r: string): string => r.replace(/^\/+|\/+$/g, '').toLowerCase();
  if (trim(effectiveRoute(a)) !== trim(effectiveRoute(b))) return false;
  const ma = methodsOf(a);
  const mb = methodsOf(b);
  return ma.length === 0 || mb.length === 0 || ma.some((m) => mb.includes(m));
}

export interface HttpValidation {
  /** The HTTP functions the host loads, in registration order. */
  valid: RegisteredFunction[];
  /** Function name → the error the host reports for it (the function is not loaded). */
  errors: Map<string, string>;
}

/** Validates HTTP functions in order, as the host does while it indexes them. */
export function validateHttpFunctions(functions: readonly RegisteredFunction[]): HttpValidation {
  const valid: RegisteredFunction[] = [];
  const errors = new Map<string, string>();
  for (const fn of functions) {
    if (isReservedRoute(effectiveRoute(fn))) {
      errors.set(fn.name, RESERVED_ROUTE_MESSAGE);
      continue;
    }
    const other = valid.find((v) => routesConflict(fn, v));
    if (other) {
      errors.set(
        fn.name,
        `The route specified conflicts with the route defined by function '${other.name}'.`,
      );
      continue;
    }
    valid.push(fn);
  }
  return { valid, errors };
}

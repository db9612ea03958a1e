import { getSettings } from '../../shared/config/index.js';
import type { BindingInfo, RegisteredFunction } from './types.js';

/**
 * `%Name%` in a binding property is an app-setting reference the Functions host resolves at start-up
 * (e.g. `queueName: '%EXPORT_QUEUE_NAME%'`). Resolved here from the environment, then from the app's own
 * settings defaults (shared/config), which is what the app itself sends to.
 */

export type SettingLookup = (name: string) => string | undefined;

/** Properties that may hold app-setting references. */
const RESOLVED_PROPERTIES = ['queueName', 'topicName', 'subscriptionName', 'schedule'];

export function appSettingLookup(env: NodeJS.ProcessEnv = process.env): SettingLookup {
  let defaults: Record<string, unknown> | undefined;
  return (name) => {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    try {
      defaults ??= getSettings() as Record<string, unknown>;
    } catch {
      defaults = {};
    }
    const fallback = defaults[name];
    return typeof fallback === 'string' || typeof fallback === 'number' ? String(fallback) : undefined;
  };
}

export class UnresolvedSettingError extends Error {}

export function resolveExpression(text: string, lookup: SettingLookup): string {
  return text.replace(/%([^%\s]+)%/g, (_, name: string) => {
    const value = lookup(name);
    if (value === undefined) throw new UnresolvedSettingError(`'%${name}%' does not resolve to a value`);
    return value;
  });
}

function resolveBinding<T extends BindingInfo>(binding: T, lookup: SettingLookup): T {
  const copy: BindingInfo = { ...binding };
  for (const key of RESOLVED_PROPERTIES) {
    const value = copy[key];
    if (typeof value === 'string') copy[key] = resolveExpression(value, lookup);
  }
  return copy as T;
}

/** A view of the function with its binding expressions resolved (the handler is unchanged). */
export function resolveFunction(fn: RegisteredFunction, lookup: SettingLookup): RegisteredFunction {
  const bindings = Object.fromEntries(
    Object.entries(fn.metadata.bindings).map(([name, b]) => [name, resolveBinding(b, lookup)]),
  );
  return {
    name: fn.name,
    handler: fn.handler,
    metadata: { ...fn.metadata, bindings },
    trigger: resolveBinding(fn.trigger, lookup),
  };
}

import { entityName } from './service-bus/connection.js';
import type { RegisteredFunction } from './types.js';

export interface FunctionDescription {
  name: string;
  trigger: string;
  /** Route with methods, queue, schedule… whatever identifies what fires it. */
  detail: string;
}

/** One line per function, in the spirit of `func start`'s function list. */
export function describeFunction(
  fn: RegisteredFunction,
  routePrefix: string,
  origin: string,
): FunctionDescription {
  const t = fn.trigger;
  const type = t.type.replace(/Trigger$/i, '');
  switch (t.type.toLowerCase()) {
    case 'httptrigger': {
      const methods =
        Array.isArray(t.methods) && t.methods.length > 0 ? (t.methods as string[]).join(',') : 'ALL';
      const route = typeof t.route === 'string' && t.route ? t.route : fn.name;
      return {
        name: fn.name,
        trigger: 'http',
        detail: `[${methods}] ${origin}/${routePrefix ? `${routePrefix}/` : ''}${route}`,
      };
    }
    case 'servicebustrigger':
      return {
        name: fn.name,
        trigger: 'serviceBus',
        detail: `queue ${entityName(t) ?? '?'}${t.cardinality === 'many' ? ' (batch)' : ''}`,
      };
    case 'timertrigger':
      return {
        name: fn.name,
        trigger: 'timer',
        detail: `schedule ${String(t.schedule)}${t.runOnStartup === true ? ' (runOnStartup)' : ''}`,
      };
    case 'orchestrationtrigger':
      return { name: fn.name, trigger: 'orchestration', detail: 'durable orchestrator' };
    case 'activitytrigger':
      return { name: fn.name, trigger: 'activity', detail: 'durable activity' };
    default:
      return { name: fn.name, trigger: type, detail: 'not supported by the local host' };
  }
}

export function formatFunctionTable(rows: FunctionDescription[]): string {
  if (rows.length === 0) return 'No functions found.';
  const nameWidth = Math.max(...rows.map((r) => r.name.length));
  const triggerWidth = Math.max(...rows.map((r) => r.trigger.length));
  return ['Functions:', '']
    .concat(rows.map((r) => `  ${r.name.padEnd(nameWidth)}  ${r.trigger.padEnd(triggerWidth)}  ${r.detail}`))
    .join('\n');
}

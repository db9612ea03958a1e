import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The parts of host.json the local host honours, with the Functions defaults for anything absent. */
export interface HostJsonSettings {
  routePrefix: string;
  serviceBus: { maxConcurrentCalls: number; maxDeliveryCount: number; maxMessageBatchSize: number };
  durableTask: {
    hubName: string;
    maxConcurrentActivityFunctions: number;
    maxConcurrentOrchestratorFunctions: number;
  };
}

export const HOST_JSON_DEFAULTS: HostJsonSettings = {
  routePrefix: 'api',
  // maxDeliveryCount is a queue property in Azure (default 10); the host reads it from host.json so the
  // local queues can mirror what Bicep configures. maxMessageBatchSize caps a `cardinality: 'many'`
  // trigger's batch (default 1000: learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus#hostjson-settings).
  serviceBus: { maxConcurrentCalls: 16, maxDeliveryCount: 10, maxMessageBatchSize: 1000 },
  durableTask: {
    hubName: 'TestHubName',
    maxConcurrentActivityFunctions: 10,
    maxConcurrentOrchestratorFunctions: 10,
  },
};

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function positiveInt(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : fallback;
}

export function readHostJson(root: string): HostJsonSettings {
  const file = path.join(root, 'host.json');
  if (!existsSync(file)) return structuredClone(HOST_JSON_DEFAULTS);
  const json = record(JSON.parse(readFileSync(file, 'utf8')));
  const extensions = record(json.extensions);
  const http = record(extensions.http);
  const serviceBus = record(extensions.serviceBus);
  const durable = record(extensions.durableTask);
  const d = HOST_JSON_DEFAULTS;
  return {
    routePrefix:
      typeof http.routePrefix === 'string' ? http.routePrefix.replace(/^\/+|\/+$/g, '') : d.routePrefix,
    serviceBus: {
      maxConcurrentCalls: positiveInt(serviceBus.maxConcurrentCalls, d.serviceBus.maxConcurrentCalls),
      maxDeliveryCount: positiveInt(serviceBus.maxDeliveryCount, d.serviceBus.maxDeliveryCount),
      maxMessageBatchSize: positiveInt(serviceBus.maxMessageBatchSize, d.serviceBus.maxMessageBatchSize),
    },
    durableTask: {
      hubName:
        typeof durable.hubName === 'string' && durable.hubName ? durable.hubName : d.durableTask.hubName,
      maxConcurrentActivityFunctions: positiveInt(
        durable.maxConcurrentActivityFunctions,
        d.durableTask.maxConcurrentActivityFunctions,
      ),
      maxConcurrentOrchestratorFunctions: positiveInt(
        durable.maxConcurrentOrchestratorFunctions,
        d.durableTask.maxConcurrentOrchestratorFunctions,
      ),
    },
  };
}

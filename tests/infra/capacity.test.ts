import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_SINK_POOL_MAX,
  AZURE_RESERVED_CONNECTIONS,
  connectionBudget,
  connectionsPerInstance,
  ormPoolMax,
} from '../../shared/db/capacity.js';
import { settingsSchema } from '../../shared/config/settings.js';
import { BICEP_DIR, ROOT } from './bicep.js';

/**
 * The connection budget, one formula (shared/db/capacity.ts) against each environment's parameters:
 * maximumInstanceCount × connections per instance + reserve ≤ the server's user connections.
 * max_connections per SKU: learn.microsoft.com/azure/postgresql/flexible-server/concepts-limits
 * ("Maximum connections"; 15 of them are reserved for replication and monitoring).
 */
const MAX_CONNECTIONS: Record<string, number> = {
  Standard_B1ms: 50,
  Standard_B2s: 429,
  Standard_B2ms: 859,
  Standard_B4ms: 1718,
  Standard_B8ms: 3437,
  Standard_D2ds_v5: 859,
  Standard_D4ds_v5: 1718,
  Standard_D8ds_v5: 3437,
  Standard_D16ds_v5: 5000,
  Standard_E2ds_v5: 1718,
  Standard_E4ds_v5: 3437,
};

const main = readFileSync(path.join(BICEP_DIR, 'main.bicep'), 'utf8');
const functionApp = readFileSync(path.join(BICEP_DIR, 'modules', 'function-app.bicep'), 'utf8');

function defaultOf(name: string): string {
  const match = new RegExp(`^param ${name} \\w+ = (.+)$`, 'm').exec(main);
  if (!match) throw new Error(`main.bicep: no default for ${name}`);
  return match[1]!.replace(/^'|'$/g, '');
}

function parametersOf(env: string): { instances: number; poolMax: number; sku: string } {
  const file = JSON.parse(
    readFileSync(path.join(BICEP_DIR, 'parameters', `${env}.parameters.json`), 'utf8'),
  ) as { parameters: Record<string, { value: unknown } | undefined> };
  const value = (name: string): string => String(file.parameters[name]?.value ?? defaultOf(name));
  return {
    instances: Number(value('maximumInstanceCount')),
    poolMax: Number(value('databasePoolMax')),
    sku: value('postgresSkuName'),
  };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

describe('PostgreSQL connection budget', () => {
  it.each(['dev', 'prod'])('%s: instance cap × connections per instance + reserve fits the server', (env) => {
    const { instances, poolMax, sku } = parametersOf(env);
    const max = MAX_CONNECTIONS[sku];
    expect(max, `${sku}: add its max_connections from the limits page`).toBeDefined();
    const budget = connectionBudget(instances, poolMax);
    expect(
      budget,
      `${env}: ${instances} × ${connectionsPerInstance(poolMax)} + reserve = ${budget} > ${max! - AZURE_RESERVED_CONNECTIONS}`,
    ).toBeLessThanOrEqual(max! - AZURE_RESERVED_CONNECTIONS);
  });

  it('the formula counts every pool the app opens (a new pg.Pool or ORM must be added to it)', () => {
    const opened = new Map<string, number>();
    for (const file of [
      ...sourceFiles(path.join(ROOT, 'shared')),
      ...sourceFiles(path.join(ROOT, 'functions')),
    ]) {
      const source = readFileSync(file, 'utf8');
      const count = (source.match(/new pg\.Pool\(|MikroORM\.init\(/g) ?? []).length;
      if (count > 0) opened.set(path.relative(ROOT, file), count);
    }
    expect(Object.fromEntries(opened)).toEqual({
      // getOrm and getAuditOrm (the latter is called by nothing in the app: migrations only).
      'shared/db/orm.ts': 2,
      'shared/db/migrate.ts': 1,
      'shared/db/read-pool.ts': 1,
      'shared/db/stream-pool.ts': 1,
      'shared/services/audit/audit-sink.ts': 1,
      'shared/services/audit/audit-trail.ts': 1,
      'shared/services/health.ts': 1,
    });
    const callers = sourceFiles(path.join(ROOT, 'shared'))
      .concat(sourceFiles(path.join(ROOT, 'functions')))
      .filter((file) => !file.endsWith(path.join('db', 'orm.ts')))
      .filter((file) => readFileSync(file, 'utf8').includes('getAuditOrm('));
    expect(callers.map((f) => path.relative(ROOT, f))).toEqual([]);
    // The audit sink's size as the formula counts it.
    const sink = readFileSync(path.join(ROOT, 'shared', 'services', 'audit', 'audit-sink.ts'), 'utf8');
    expect(sink).toMatch(new RegExp(`\\bmax: ${AUDIT_SINK_POOL_MAX},`));
    const trail = readFileSync(path.join(ROOT, 'shared', 'services', 'audit', 'audit-trail.ts'), 'utf8');
    expect(trail).toMatch(/\bmax: AUDIT_TRAIL_POOL_MAX,/);
    // Health keeps one pool per database it probes: the app's and the audit database.
    const health = readFileSync(path.join(ROOT, 'shared', 'services', 'health.ts'), 'utf8');
    expect(health).toMatch(/\bmax: HEALTH_POOL_MAX,/);
    expect(health.match(/probe\(getSettings\(\)\.\w+\)/g)).toHaveLength(2);
    // One worker process per instance: the pools are per process.
    expect(functionApp).not.toContain('FUNCTIONS_WORKER_PROCESS_COUNT');
  });

  it('activity concurrency never exceeds the ORM pool an activity needs', () => {
    const hostJson = JSON.parse(readFileSync(path.join(ROOT, 'host.json'), 'utf8')) as {
      extensions: { durableTask: { maxConcurrentActivityFunctions: number } };
    };
    // host.json is what local runs and Core Tools use, with the default DATABASE_POOL_MAX.
    const localPool = settingsSchema.shape.DATABASE_POOL_MAX.parse(undefined);
    expect(hostJson.extensions.durableTask.maxConcurrentActivityFunctions).toBeLessThanOrEqual(
      ormPoolMax(localPool),
    );
    // In Azure each environment overrides it with its own ORM pool size, computed as ormPoolMax does.
    expect(functionApp).toContain(
      'AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions: string(tuning.activityConcurrency)',
    );
    expect(main).toContain('activityConcurrency: max(1, databasePoolMax - max(1, databasePoolMax / 4))');
    const bicepFormula = (p: number): number => Math.max(1, p - Math.max(1, Math.trunc(p / 4)));
    for (let p = 1; p <= 200; p++) expect(bicepFormula(p), `DATABASE_POOL_MAX ${p}`).toBe(ormPoolMax(p));
  });
});

describe('Durable Functions on Azure Storage (docs/adr/0091-durable-and-capacity.md)', () => {
  const hostJson = JSON.parse(readFileSync(path.join(ROOT, 'host.json'), 'utf8')) as {
    extensions: { durableTask: { storageProvider?: { type?: string; maxQueuePollingInterval?: string } } };
  };

  it('polls its queues at most every second when idle (the default backs off to 30 s)', () => {
    const provider = hostJson.extensions.durableTask.storageProvider;
    expect(provider?.type).toBe('AzureStorage');
    const [h, m, s] = (provider?.maxQueuePollingInterval ?? '').split(':').map(Number);
    expect(h! * 3600 + m! * 60 + s!).toBeLessThanOrEqual(1);
  });

  it('keeps the durable group always ready: checkouts never wait for a cold start', () => {
    expect(functionApp).toMatch(/name: 'durable'\n\s+instanceCount: alwaysReadyDurableInstances/);
    expect(functionApp).toMatch(/@minValue\(1\)\nparam alwaysReadyDurableInstances int = 1/);
    expect(functionApp).toContain('alwaysReady: filter(alwaysReadyGroups, group => group.instanceCount > 0)');
    expect(main).toContain('alwaysReadyDurableInstances: alwaysReadyDurableInstances');
  });
});

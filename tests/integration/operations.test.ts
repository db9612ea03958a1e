import { afterAll, describe, expect, it } from 'vitest';
import { health } from '../../functions/health.js';
import { docsAsset, docsPage, openApiJson } from '../../functions/docs.js';
import { checkHealth, defaultProbes } from '../../shared/services/health.js';
import { closeOrms } from '../../shared/db/orm.js';
import { closeRedis } from '../../shared/cache/redis.js';
import { invoke } from '../support/http.js';

const fail = async (): Promise<never> => {
  throw new Error('connect ECONNREFUSED postgres://user:pw@127.0.0.1:1/db');
};

describe('operational endpoints', () => {
  afterAll(async () => {
    await closeOrms();
    await closeRedis();
  });

  it('health is ok when PostgreSQL, the audit database and Redis answer', async () => {
    const res = await invoke(health);
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('ok');
    expect(Object.keys(res.json.checks).sort()).toEqual(['auditDatabase', 'database', 'redis']);
  });

  it('health is degraded without Redis or the audit database, and down without PostgreSQL', async () => {
    expect((await checkHealth({ ...defaultProbes, redis: fail })).status).toBe('degraded');
    expect((await checkHealth({ ...defaultProbes, auditDatabase: fail })).status).toBe('degraded');
    const down = await checkHealth({ ...defaultProbes, database: fail });
    expect(down.status).toBe('down');
    expect(JSON.stringify(down)).not.toContain('pw@');
    expect(JSON.stringify(down)).not.toContain('ECONNREFUSED');
    expect(down.checks.database.error).toBe('unreachable');
  });

  it('health times a hung dependency out quickly', async () => {
    const started = Date.now();
    const report = await checkHealth({ ...defaultProbes, redis: () => new Promise(() => undefined) });
    expect(report.checks.redis.status).toBe('down');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('serves an OpenAPI 3.1 document that lists the routes', async () => {
    const res = await invoke(openApiJson);
    expect(res.status).toBe(200);
    expect(res.json.openapi).toBe('3.1.0');
    expect(res.json.paths['/health'].get.operationId).toBe('health');
    expect(res.json.paths['/docs/{asset}']).toBeUndefined();
    expect(res.json.components.securitySchemes).toHaveProperty('adminToken');
  });

  it('serves Swagger UI from local assets only', async () => {
    const page = await invoke(docsPage);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).not.toMatch(/https?:\/\//);
    const bundle = await invoke(docsAsset, { params: { asset: 'swagger-ui-bundle.js' } });
    expect(bundle.status).toBe(200);
    expect(bundle.text.length).toBeGreaterThan(100_000);
    for (const asset of ['../package.json', '..%2Fpackage.json', 'index.html', 'swagger-initializer.js']) {
      expect((await invoke(docsAsset, { params: { asset } })).status).toBe(404);
    }
  });
});

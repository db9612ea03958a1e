import { beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { functionModules } from '../../infra/openapi/load-functions.js';
import { typesFor } from '../../infra/openapi/generate.js';
import { openApiDocument, resetOpenApiCache } from '../../shared/schemas/openapi.js';

const exec = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');

/** Every route of ../shared/API.md. */
const API_ROUTES = [
  'post /auth/register',
  'post /auth/login',
  'post /auth/refresh',
  'post /auth/logout',
  'get /me',
  'get /products',
  'get /products/search',
  'get /products/{id}',
  'get /products/{id}/reviews',
  'post /products/{id}/reviews',
  'get /reviews',
  'get /cart',
  'put /cart/items/{productId}',
  'delete /cart/items/{productId}',
  'delete /cart',
  'post /checkout',
  'get /orders',
  'get /orders/{id}',
  'post /orders/{id}/cancel',
  'post /webhooks/stripe',
  'post /manage/products',
  'patch /manage/products/{id}',
  'delete /manage/products/{id}',
  'put /manage/products/{id}/inventory',
  'get /manage/products/{id}/inventory',
  'post /manage/products/{id}/inventory/adjustments',
  'get /manage/orders',
  'get /manage/orders/{id}',
  'post /manage/orders/{id}/fulfilments',
  'post /manage/orders/{id}/cancel',
  'post /manage/orders/{id}/refunds',
  'post /manage/orders/exports',
  'get /manage/orders/exports/{id}',
  'get /health',
  'get /openapi.json',
  'get /docs',
];

type Doc = ReturnType<typeof openApiDocument>;

describe('the published OpenAPI document', () => {
  let doc: Doc;

  beforeAll(async () => {
    for (const file of functionModules(path.join(root, 'functions'), '.ts')) await import(file);
    resetOpenApiCache();
    doc = openApiDocument();
  });

  it('lists every route of the API with responses and problem+json errors', () => {
    const operations = Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
      Object.keys(item as object).map((method) => `${method} ${p}`),
    );
    expect(operations.sort()).toEqual(expect.arrayContaining(API_ROUTES.sort()));
    for (const [p, item] of Object.entries(doc.paths ?? {})) {
      for (const [method, op] of Object.entries(
        item as Record<string, { responses: Record<string, any>; summary?: string }>,
      )) {
        expect(op.summary, `${method} ${p} summary`).toBeTruthy();
        expect((op as { description?: string }).description, `${method} ${p} says who may call it`).toMatch(
          /\*\*Access:\*\*/,
        );
        const codes = Object.keys(op.responses);
        expect(
          codes.some((c) => c.startsWith('2')),
          `${method} ${p} has a 2xx`,
        ).toBe(true);
        if (p !== '/docs' && p !== '/openapi.json' && p !== '/health') {
          expect(
            op.responses['400']?.content?.['application/problem+json'],
            `${method} ${p} documents 400`,
          ).toBeTruthy();
        }
      }
    }
  });

  it('passes redocly lint with the recommended rules', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'openapi-')), 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const result = await exec(
      path.join(root, 'node_modules', '.bin', 'redocly'),
      ['lint', file, '--config', path.join(root, 'redocly.yaml'), '--format', 'stylish'],
      {
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        cwd: root,
      },
    ).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`redocly lint failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
    });
    expect(result.stdout + result.stderr).not.toMatch(/\berror\b.*\d+ errors?/i);
  }, 60_000);

  it('matches the committed client types (npm run api:generate refreshes them)', async () => {
    const committed = readFileSync(path.join(root, 'tests', 'generated', 'api.d.ts'), 'utf8');
    expect(await typesFor(doc), 'tests/generated/api.d.ts is stale: run npm run api:generate').toBe(
      committed,
    );
  });
});

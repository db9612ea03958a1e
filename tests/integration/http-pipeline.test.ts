import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { z } from '../../shared/schemas/zod.js';
import { PageQuery } from '../../shared/schemas/common.js';
import { defineRoute } from '../../functions/lib/route.js';
import { closeOrms } from '../../shared/db/orm.js';
import { ConflictException } from '../../shared/errors/index.js';
import { invoke } from '../support/http.js';
import { closeTestPool, createTenant, testPool } from '../fixtures/sample_data.js';

const Body = z.object({ name: z.string().min(1).max(50), quantity: z.number().int().min(1).max(99) });

const echo = defineRoute({
  name: 'testEcho',
  method: 'POST',
  route: 'test/echo/{id}',
  access: 'tenant',
  hidden: true,
  tags: ['test'],
  summary: 'test',
  params: z.object({ id: z.uuid() }),
  query: PageQuery,
  body: Body,
  responses: {},
  handler: async ({ params, query, body, domain }) => ({
    status: 201,
    body: { params, query, body, tenantId: domain.tenantId },
  }),
});

const failsMidway = defineRoute({
  name: 'testFailsMidway',
  method: 'POST',
  route: 'test/fails',
  access: 'tenant',
  hidden: true,
  tags: ['test'],
  summary: 'test',
  responses: {},
  handler: async ({ em, domain }) => {
    await em.execute('update tenants set name = ? where id = ?', ['changed', domain.tenantId]);
    throw new ConflictException('conflict after a write');
  },
});

describe('HTTP pipeline', () => {
  let tenant: { id: string };
  const id = randomUUID();
  const headers = () => ({ 'x-tenant-id': tenant.id, 'content-type': 'application/json' });

  beforeAll(async () => {
    tenant = await createTenant('Pipeline shop');
  });
  afterAll(async () => {
    await closeOrms();
    await closeTestPool();
  });

  it('passes validated params, query and body to the handler', async () => {
    const res = await invoke(echo, {
      method: 'POST',
      params: { id },
      headers: headers(),
      body: { name: 'x', quantity: 2 },
    });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      params: { id },
      query: { pageSize: 20 },
      body: { name: 'x', quantity: 2 },
      tenantId: tenant.id,
    });
    expect(res.headers.get('x-correlation-id')).toBeTruthy();
  });

  it('lists every invalid field', async () => {
    const res = await invoke(echo, {
      method: 'POST',
      params: { id: 'not-a-uuid' },
      query: { pageSize: '101' },
      headers: headers(),
      body: { name: '', quantity: 100, extra: 1 },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const fields = res.json.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['path.id']));
    // Path errors stop before the query and body are read.
    const res2 = await invoke(echo, {
      method: 'POST',
      params: { id },
      query: { pageSize: '101' },
      headers: headers(),
      body: { name: '', quantity: 100 },
    });
    expect(res2.json.errors.map((e: { field: string }) => e.field)).toEqual(['query.pageSize']);
    const res3 = await invoke(echo, {
      method: 'POST',
      params: { id },
      headers: headers(),
      body: { name: '', quantity: 100 },
    });
    expect(res3.json.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'body.name',
      'body.quantity',
    ]);
  });

  it.each([
    ['malformed JSON', { rawBody: '{"name": ', headers: { 'content-type': 'application/json' } }, 400],
    [
      'invalid UTF-8',
      { rawBody: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), headers: { 'content-type': 'application/json' } },
      400,
    ],
    [
      'a wrong content type',
      { rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
    ],
    [
      'a body over 1 MiB',
      {
        rawBody: JSON.stringify({ name: 'x'.repeat(1024 * 1024) }),
        headers: { 'content-type': 'application/json' },
      },
      413,
    ],
    ['JSON null', { rawBody: 'null', headers: { 'content-type': 'application/json' } }, 400],
  ])('answers %s with a problem, never a 500', async (_label, options, status) => {
    const res = await invoke(echo, {
      method: 'POST',
      params: { id },
      ...options,
      headers: { ...options.headers, 'x-tenant-id': tenant.id },
    });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });

  it('requires a known tenant', async () => {
    const body = { name: 'x', quantity: 1 };
    expect((await invoke(echo, { method: 'POST', params: { id }, body })).status).toBe(400);
    expect(
      (await invoke(echo, { method: 'POST', params: { id }, body, headers: { 'x-tenant-id': randomUUID() } }))
        .status,
    ).toBe(404);
    expect(
      (
        await invoke(echo, {
          method: 'POST',
          params: { id },
          body,
          headers: { 'x-tenant-id': "1' or '1'='1" },
        })
      ).status,
    ).toBe(404);
  });

  it('rejects a malformed bearer token with 401', async () => {
    const res = await invoke(echo, {
      method: 'POST',
      params: { id },
      body: { name: 'x', quantity: 1 },
      headers: { ...headers(), authorization: 'Bearer not.a.jwt' },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('rolls back a write when the handler fails after it', async () => {
    const res = await invoke(failsMidway, { method: 'POST', headers: { 'x-tenant-id': tenant.id } });
    expect(res.status).toBe(409);
    const { rows } = await testPool().query('select name from tenants where id = $1', [tenant.id]);
    expect(rows[0].name).toBe('Pipeline shop');
  });
});

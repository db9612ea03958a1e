import { afterAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { defineRoute } from '../../../functions/lib/route.js';
import { closeRedis } from '../../../shared/cache/redis.js';
import { resetSettingsForTests } from '../../../shared/config/index.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { runUnitOfWork } from '../../../shared/db/unit-of-work.js';
import { ConflictException, ValidationException } from '../../../shared/errors/index.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { ensureAccount } from '../../../shared/services/auth/account-bootstrap.js';
import { closePasswordHasher, getPasswordHasher } from '../../../shared/services/auth/passwords.js';
import { ensureTenant, findTenant } from '../../../shared/services/auth/tenant-bootstrap.js';
import { DEMO_PRODUCTS, seedSampleData } from '../../../infra/seed/sample-data.js';
import { closeTestPool, createTenant, testPool } from '../../fixtures/sample_data.js';
import { testPii } from '../../fixtures/users.js';
import { invoke } from '../../support/http.js';
import { STRONG_PASSWORD, loginUser, registerUser, uniqueEmail } from './helpers.js';

const adminOnly = defineRoute({
  name: 'testBootstrapAdmin',
  method: 'GET',
  route: 'test/bootstrap-admin',
  access: 'admin',
  hidden: true,
  tags: ['test'],
  summary: 'test',
  responses: {},
  handler: async () => ({ body: { ok: true } }),
});

describe('bootstrap: tenant:create, admin:create, sample data', () => {
  afterAll(async () => {
    await closeOrms();
    await closeRedis();
    await closePasswordHasher();
    await closeTestPool();
  });

  const deps = () => ({
    hasher: getPasswordHasher(),
    cipher: testPii().cipher,
    emailIndexKey: testPii().indexKey,
  });

  it('creates a tenant once; a second run returns the same id (even under concurrency)', async () => {
    const slug = `shop-${Date.now().toString(36)}`;
    const results = await Promise.all(
      Array.from({ length: 4 }, () => runUnitOfWork('write', (em) => ensureTenant(em, slug, 'My shop'))),
    );
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const again = await runUnitOfWork('write', (em) => ensureTenant(em, slug, 'Renamed'));
    expect(again).toMatchObject({ id: results[0]!.id, created: false, name: 'My shop' });
    await runUnitOfWork('read', async (em) => {
      expect(await findTenant(em, slug)).toMatchObject({ id: again.id });
      expect(await findTenant(em, again.id.toUpperCase())).toMatchObject({ slug });
      expect(await findTenant(em, 'no-such-shop')).toBeNull();
    });
  });

  it('refuses an invalid slug with a validation error, not a database error', async () => {
    await expect(runUnitOfWork('write', (em) => ensureTenant(em, 'Bad Slug!', 'x'))).rejects.toBeInstanceOf(
      ValidationException,
    );
  });

  it('creates an admin idempotently; a new password resets it and ends its sessions; a customer can be promoted', async () => {
    const tenant = await createTenant('Admin bootstrap shop');
    const email = uniqueEmail('admin');
    const run = (password: string) =>
      runUnitOfWork('write', (em) =>
        ensureAccount({ em, tenantId: tenant.id, log: silentLogger, correlationId: 't' }, deps(), {
          email,
          password,
          name: 'Admin',
          roles: ['admin'],
        }),
      );
    const first = await run('first admin password');
    expect(first.outcome).toBe('created');
    expect(await run('first admin password')).toEqual({ id: first.id, outcome: 'unchanged' });

    const session = await loginUser(tenant.id, email, 'first admin password');
    expect(decodeJwt(session.json.accessToken).roles).toEqual(['admin']);
    const guarded = await invoke(adminOnly, {
      headers: {
        authorization: `Bearer ${session.json.accessToken}`,
        'x-admin-token': process.env.ADMIN_TOKEN!,
      },
    });
    expect(guarded.status).toBe(200);

    expect(await run('second admin password')).toEqual({ id: first.id, outcome: 'updated' });
    const { rows } = await testPool().query(
      'select count(*)::int as live from refresh_tokens where user_id = $1 and revoked_at is null',
      [first.id],
    );
    expect(rows[0].live).toBe(0);
    expect((await loginUser(tenant.id, email, 'first admin password')).status).toBe(401);
    expect((await loginUser(tenant.id, email, 'second admin password')).status).toBe(200);

    // Promoting a registered customer keeps the customer role and adds admin.
    const customer = await registerUser(tenant.id);
    const promoted = await runUnitOfWork('write', (em) =>
      ensureAccount({ em, tenantId: tenant.id, log: silentLogger, correlationId: 't' }, deps(), {
        email: customer.input.email,
        password: STRONG_PASSWORD,
        name: 'ignored',
        roles: ['admin'],
      }),
    );
    expect(promoted).toEqual({ id: customer.json.id, outcome: 'updated' });
    const roles = await testPool().query('select roles from users where id = $1', [customer.json.id]);
    expect(roles.rows[0].roles).toEqual(['admin', 'customer']);
  });

  it('refuses a weak bootstrap password with a validation error', async () => {
    const tenant = await createTenant('Weak shop');
    await expect(
      runUnitOfWork('write', (em) =>
        ensureAccount({ em, tenantId: tenant.id, log: silentLogger, correlationId: 't' }, deps(), {
          email: uniqueEmail(),
          password: 'short',
          name: 'A',
          roles: ['admin'],
        }),
      ),
    ).rejects.toBeInstanceOf(ValidationException);
  });

  it('reports an email held by a deleted account as a conflict', async () => {
    const tenant = await createTenant('Deleted shop');
    const reg = await registerUser(tenant.id);
    await testPool().query('update users set deleted_at = now() where id = $1', [reg.json.id]);
    await expect(
      runUnitOfWork('write', (em) =>
        ensureAccount({ em, tenantId: tenant.id, log: silentLogger, correlationId: 't' }, deps(), {
          email: reg.input.email,
          password: STRONG_PASSWORD,
          name: 'A',
          roles: ['admin'],
        }),
      ),
    ).rejects.toBeInstanceOf(ConflictException);
  });

  it('seeds the sample data idempotently: tenant demo, a customer, an admin, five products with stock', async () => {
    const first = await seedSampleData();
    const second = await seedSampleData();
    expect(second.tenantId).toBe(first.tenantId);
    expect(second.tenantSlug).toBe('demo');
    expect(second.customer.id).toBe(first.customer.id);
    expect(second.admin.id).toBe(first.admin.id);
    expect(second.created).toEqual({ tenant: false, customer: 'unchanged', admin: 'unchanged', products: 0 });
    expect(second.adminToken).toBe(process.env.ADMIN_TOKEN);

    const { rows } = await testPool().query(
      `select p.sku, p.price_cents::int as price, i.available from products p join inventory i on i.product_id = p.id
        where p.tenant_id = $1 order by p.sku`,
      [first.tenantId],
    );
    expect(rows).toEqual(
      [...DEMO_PRODUCTS]
        .sort((a, b) => (a.sku < b.sku ? -1 : 1))
        .map((p) => ({ sku: p.sku, price: p.priceCents, available: p.stock })),
    );

    expect((await loginUser(first.tenantId, first.customer.email, first.customer.password)).status).toBe(200);
    const admin = await loginUser(first.tenantId, first.admin.email, first.admin.password);
    const guarded = await invoke(adminOnly, {
      headers: { authorization: `Bearer ${admin.json.accessToken}`, 'x-admin-token': second.adminToken! },
    });
    expect(guarded.status).toBe(200);
  });

  it('refuses to seed public passwords when APP_ENV is azure', async () => {
    process.env.APP_ENV = 'azure';
    resetSettingsForTests();
    try {
      await expect(seedSampleData()).rejects.toThrow(/APP_ENV is azure/);
    } finally {
      process.env.APP_ENV = 'test';
      resetSettingsForTests();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineRoute } from '../../../functions/lib/route.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { closeTestPool, createTenant } from '../../fixtures/sample_data.js';
import { accessTokenFor, createUser, type TestUser } from '../../fixtures/users.js';
import { invoke } from '../../support/http.js';

const adminOnly = defineRoute({
  name: 'testAdminGuard',
  method: 'GET',
  route: 'test/admin-guard',
  access: 'admin',
  hidden: true,
  tags: ['test'],
  summary: 'test',
  responses: {},
  handler: async ({ principal, domain }) => ({
    body: { userId: principal?.userId, tenantId: domain.tenantId },
  }),
});

type AdminTokenCase = 'missing' | 'wrong' | 'wrong-length' | 'right';
type BearerCase = 'missing' | 'invalid' | 'customer' | 'admin';

/**
 * Expected answers, row by row. The bearer is checked first: no (valid) bearer is a 401 whatever the
 * admin token. With a valid bearer: missing admin token 401, wrong one 403, right one but no admin
 * role 403; only the admin role with the right token gets through.
 */
const EXPECTED: Record<BearerCase, Record<AdminTokenCase, number>> = {
  missing: { missing: 401, wrong: 401, 'wrong-length': 401, right: 401 },
  invalid: { missing: 401, wrong: 401, 'wrong-length': 401, right: 401 },
  customer: { missing: 401, wrong: 403, 'wrong-length': 403, right: 403 },
  admin: { missing: 401, wrong: 403, 'wrong-length': 403, right: 200 },
};

describe('admin guard: X-Admin-Token × bearer role', () => {
  let customer: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    const tenant = await createTenant('Admin guard shop');
    customer = await createUser(tenant.id, { roles: ['customer'] });
    admin = await createUser(tenant.id, { roles: ['admin'] });
  });
  afterAll(async () => {
    await closeOrms();
    await closeTestPool();
  });

  async function bearer(kind: BearerCase): Promise<Record<string, string>> {
    switch (kind) {
      case 'missing':
        return {};
      case 'invalid': {
        const token = await accessTokenFor(admin);
        return { authorization: `Bearer ${token.slice(0, -2)}xx` };
      }
      case 'customer':
        return { authorization: `Bearer ${await accessTokenFor(customer)}` };
      case 'admin':
        return { authorization: `Bearer ${await accessTokenFor(admin)}` };
    }
  }

  function adminToken(kind: AdminTokenCase): Record<string, string> {
    const right = process.env.ADMIN_TOKEN!;
    switch (kind) {
      case 'missing':
        return {};
      case 'wrong':
        // Same length, last character changed: only a full comparison can tell.
        return { 'x-admin-token': right.slice(0, -1) + (right.endsWith('A') ? 'B' : 'A') };
      case 'wrong-length':
        return { 'x-admin-token': right + 'extra' };
      case 'right':
        return { 'x-admin-token': right };
    }
  }

  const cases = (Object.keys(EXPECTED) as BearerCase[]).flatMap((b) =>
    (Object.keys(EXPECTED[b]) as AdminTokenCase[]).map((a) => [b, a, EXPECTED[b][a]] as const),
  );

  it.each(cases)('bearer %s, X-Admin-Token %s → %i', async (bearerCase, adminCase, status) => {
    const res = await invoke(adminOnly, {
      headers: { ...(await bearer(bearerCase)), ...adminToken(adminCase) },
    });
    expect(res.status).toBe(status);
    if (status === 200) {
      expect(res.json).toEqual({ userId: admin.id, tenantId: admin.tenantId });
    } else {
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      if (status === 401) expect(res.headers.get('www-authenticate')).toBe('Bearer');
      // The problem never echoes the expected token.
      expect(res.text).not.toContain(process.env.ADMIN_TOKEN!);
    }
  });

  it('tells a non-admin nothing about whether its guessed admin token was right', async () => {
    const wrong = await invoke(adminOnly, {
      headers: { ...(await bearer('customer')), ...adminToken('wrong') },
    });
    const right = await invoke(adminOnly, {
      headers: { ...(await bearer('customer')), ...adminToken('right') },
    });
    expect(wrong.json.detail).toBe(right.json.detail);
  });

  it('an admin of one tenant is refused with another tenant’s X-Tenant-ID', async () => {
    const other = await createTenant('Other shop');
    const res = await invoke(adminOnly, {
      headers: { ...(await bearer('admin')), ...adminToken('right'), 'x-tenant-id': other.id },
    });
    expect(res.status).toBe(403);
  });
});

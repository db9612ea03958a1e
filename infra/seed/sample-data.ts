/**
 * The local sample data: tenant `demo`, a customer, an admin and five products with stock. Idempotent —
 * the local host calls it on every start, and running it again changes nothing (a demo account whose
 * password was changed gets the documented one back, so the printed credentials always work).
 *
 * The passwords are fixed and public: this refuses to run when APP_ENV is `azure`.
 */
import { getSettings } from '../../shared/config/index.js';
import { runUnitOfWork } from '../../shared/db/unit-of-work.js';
import { silentLogger } from '../../shared/logging/logger.js';
import { getSecret } from '../../shared/secrets/provider.js';
import { ensureAccount, type AccountOutcome } from '../../shared/services/auth/account-bootstrap.js';
import { getPasswordHasher } from '../../shared/services/auth/passwords.js';
import { getEmailIndexKey } from '../../shared/services/auth/pii-keys.js';
import { ensureTenant } from '../../shared/services/auth/tenant-bootstrap.js';
import type { DomainContext } from '../../shared/services/context.js';
import { getFieldCipher } from '../../shared/services/pii-cipher.js';
import { newId } from '../../shared/utils/ids.js';

export const DEMO_TENANT = { slug: 'demo', name: 'Demo coffee shop' } as const;
export const DEMO_CUSTOMER = {
  email: 'customer@example.com',
  password: 'demo-customer-password',
  name: 'Demo Customer',
} as const;
export const DEMO_ADMIN = {
  email: 'admin@example.com',
  password: 'demo-admin-password',
  name: 'Demo Admin',
} as const;

// The sample catalog, shared with the tests (tests/fixtures/sample_data.ts re-exports it).
export const DEMO_PRODUCTS = [
  {
    sku: 'MUG-001',
    name: 'Stoneware coffee mug',
    description: 'A hand-glazed stoneware mug that keeps coffee warm.',
    priceCents: 1800,
    stock: 40,
  },
  {
    sku: 'TEA-002',
    name: 'Loose leaf green tea',
    description: 'Sencha green tea leaves from Shizuoka, 100 g tin.',
    priceCents: 1250,
    stock: 100,
  },
  {
    sku: 'KET-003',
    name: 'Gooseneck kettle',
    description: 'Electric gooseneck kettle with temperature control for pour-over coffee.',
    priceCents: 8900,
    stock: 12,
  },
  {
    sku: 'GRD-004',
    name: 'Burr coffee grinder',
    description: 'Conical burr grinder with 40 settings, espresso to French press.',
    priceCents: 14900,
    stock: 8,
  },
  {
    sku: 'FLT-005',
    name: 'Paper coffee filters',
    description: 'Unbleached paper filters, pack of 100, fits most drippers.',
    priceCents: 650,
    stock: 500,
  },
] as const;

export interface SampleData {
  tenantId: string;
  tenantSlug: string;
  customer: { id: string; email: string; password: string };
  admin: { id: string; email: string; password: string };
  /** The local ADMIN_TOKEN (the X-Admin-Token header), when one is configured. */
  adminToken?: string;
  /** What this run did, for the start-up banner. */
  created: {
    tenant: boolean;
    customer: AccountOutcome['outcome'];
    admin: AccountOutcome['outcome'];
    products: number;
  };
}

export async function seedSampleData(): Promise<SampleData> {
  if (getSettings().APP_ENV === 'azure') {
    throw new Error('Refusing to seed sample accounts with public passwords when APP_ENV is azure.');
  }
  const [cipher, emailIndexKey] = await Promise.all([getFieldCipher(), getEmailIndexKey()]);
  const deps = { hasher: getPasswordHasher(), cipher, emailIndexKey };

  const result = await runUnitOfWork('write', async (em) => {
    const tenant = await ensureTenant(em, DEMO_TENANT.slug, DEMO_TENANT.name);
    const ctx: DomainContext = { em, tenantId: tenant.id, log: silentLogger, correlationId: 'seed' };
    const customer = await ensureAccount(ctx, deps, { ...DEMO_CUSTOMER, roles: ['customer'] });
    const admin = await ensureAccount(ctx, deps, { ...DEMO_ADMIN, roles: ['admin'] });
    let products = 0;
    for (const product of DEMO_PRODUCTS) {
      const id = newId();
      const inserted = await em.execute<{ id: string }[]>(
        `insert into products (id, tenant_id, sku, name, description, price_cents, currency)
         values (?, ?, ?, ?, ?, ?, 'USD') on conflict (tenant_id, sku) do nothing returning id`,
        [id, tenant.id, product.sku, product.name, product.description, product.priceCents],
      );
      if (inserted.length === 0) continue;
      await em.execute('insert into inventory (product_id, tenant_id, available) values (?, ?, ?)', [
        id,
        tenant.id,
        product.stock,
      ]);
      products += 1;
    }
    return { tenant, customer, admin, products };
  });

  const adminToken = await getSecret('ADMIN_TOKEN').catch(() => undefined);
  return {
    tenantId: result.tenant.id,
    tenantSlug: result.tenant.slug,
    customer: { id: result.customer.id, email: DEMO_CUSTOMER.email, password: DEMO_CUSTOMER.password },
    admin: { id: result.admin.id, email: DEMO_ADMIN.email, password: DEMO_ADMIN.password },
    ...(adminToken ? { adminToken } : {}),
    created: {
      tenant: result.tenant.created,
      customer: result.customer.outcome,
      admin: result.admin.outcome,
      products: result.products,
    },
  };
}

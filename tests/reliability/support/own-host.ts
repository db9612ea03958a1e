import pg from 'pg';
import { expect } from 'vitest';
import { startFakeStripe, type FakeStripe } from '../../../infra/fake-stripe/server.js';
import { closeTestPool, openingStockOf } from '../../fixtures/sample_data.js';
import { withApplicationName } from '../../support/faults.js';
import { spawnHost, type HostProcess, type HostProcessOptions } from '../../support/host-process.js';
import { checkSettled } from '../../support/invariants.js';
import { createOwnDatabases, tearDown, type OwnDatabases } from './databases.js';
import { drainAudit, type Shop } from './shop.js';

/**
 * What a reliability suite runs the compiled host on: databases of its own, an observer pool on them, a
 * fake Stripe whose webhooks reach the host. Building blocks rather than a fixture: suites start other
 * things in between (a cache redis-server, an admin pool) and some restart the host.
 */
export interface OwnStack {
  dbs: OwnDatabases;
  /** The observer's pool on the app database (application_name `reliability-observer`). */
  pool: pg.Pool;
  fake: FakeStripe;
}

/**
 * Creates the databases and points the fixtures (createTenant, testPool…) at them. Fixture and observer
 * connections carry the observer's application_name, so killing the host's sessions never hits them; an
 * observer connection that is killed anyway must not crash the test process.
 */
export async function startOwnStack(label: string, poolMax: number): Promise<OwnStack> {
  const dbs = await createOwnDatabases(label);
  process.env.DATABASE_URL = withApplicationName(dbs.appUrl);
  process.env.AUDIT_DATABASE_URL = dbs.auditUrl;
  const pool = new pg.Pool({ connectionString: withApplicationName(dbs.appUrl), max: poolMax });
  pool.on('error', () => undefined);
  const fake = await startFakeStripe({ webhookSecret: process.env.STRIPE_WEBHOOK_SECRET! });
  return { dbs, pool, fake };
}

/**
 * Spawns the host on the stack's databases and fake Stripe, with `env` on top, and sends the fake's
 * webhooks to it — called again for a restarted host, which listens on a new port.
 */
export async function spawnHostOn(
  stack: Pick<OwnStack, 'dbs' | 'fake'>,
  env: Record<string, string> = {},
  options: Omit<HostProcessOptions, 'env'> = {},
): Promise<HostProcess> {
  const host = await spawnHost({
    ...options,
    env: {
      DATABASE_URL: stack.dbs.appUrl,
      AUDIT_DATABASE_URL: stack.dbs.auditUrl,
      STRIPE_API_BASE: stack.fake.url,
      ...env,
    },
  });
  stack.fake.setWebhookUrl(`${host.baseUrl}/webhooks/stripe`);
  return host;
}

/**
 * Stops the host and the fake, runs `more`, closes the pools and drops the databases: every step runs
 * even when one fails (or was never started), so a host that will not stop leaves no database behind.
 */
export function stopOwnStack(
  parts: { host?: HostProcess | undefined } & Partial<OwnStack>,
  ...more: (() => Promise<unknown> | undefined)[]
): Promise<void> {
  return tearDown([
    () => parts.host?.stop(),
    () => parts.fake?.close(),
    ...more,
    () => parts.pool?.end(),
    () => closeTestPool(),
    () => parts.dbs?.drop(),
  ]);
}

/**
 * The shared oracle once the shop's orders settled and the audit relay drained: stock of the shop's
 * products conserved, every confirmed order's money at the fake, every other order's none.
 */
export async function expectSettledInvariants(
  shop: Shop,
  stack: Pick<OwnStack, 'dbs' | 'fake'>,
): Promise<void> {
  await drainAudit(shop);
  const report = await checkSettled(stack.dbs, stack.fake, {
    initialStock: openingStockOf([shop.tenantId]),
    tenantIds: [shop.tenantId],
  });
  expect(report.ok, report.summary()).toBe(true);
}

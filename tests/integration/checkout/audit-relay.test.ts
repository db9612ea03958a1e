import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { silentLogger } from '../../../shared/logging/logger.js';
import { PgAuditSink } from '../../../shared/services/audit/audit-sink.js';
import { AuditRelay } from '../../../shared/services/audit/relay.js';
import { CheckoutSaga } from '../../../shared/services/checkout/checkout-saga.js';
import { useFakeStripe } from '../../support/fake-stripe.js';
import { createProduct, createTenant, testPool } from '../../fixtures/sample_data.js';
import { createUser } from '../../fixtures/users.js';
import { expectInvariants, insertOrder } from './helpers.js';

const { fake } = useFakeStripe();
let audit: pg.Pool;
let tenantId: string;

beforeAll(async () => {
  audit = new pg.Pool({ connectionString: process.env.AUDIT_DATABASE_URL, max: 2 });
  tenantId = (await createTenant('Audit shop')).id;
});

afterAll(async () => {
  await audit.end();
});

async function outboxRows(): Promise<{ total: number; pending: number }> {
  const { rows } = await testPool().query<{ total: number; pending: number }>(
    `select count(*)::int as total, count(*) filter (where relayed_at is null)::int as pending
     from audit_outbox where tenant_id = $1`,
    [tenantId],
  );
  return rows[0]!;
}

async function auditLogRows(): Promise<number> {
  const { rows } = await audit.query<{ n: number }>(
    'select count(*)::int as n from audit_log where tenant_id = $1',
    [tenantId],
  );
  return rows[0]!.n;
}

describe('audit relay', () => {
  it('while the audit database is unreachable rows wait; once it is back they arrive exactly once', async () => {
    // "Unreachable": nothing listens on this port, so every connection attempt is refused.
    const down = new AuditRelay(
      new PgAuditSink('postgres://postgres@127.0.0.1:1/audit', { connectTimeoutMs: 500 }),
    );
    const steps = new CheckoutSaga(silentLogger);
    const user = await createUser(tenantId);
    const product = await createProduct(tenantId, { stock: 10 });

    // Checkouts (successful and declined) while the relay keeps failing.
    for (const pm of ['pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_visa']) {
      const orderId = await insertOrder(tenantId, user.id, [{ productId: product.id, quantity: 1 }], pm);
      const input = { orderId, tenantId, paymentTimeoutSeconds: 900 };
      await steps.reserve(input);
      const created = await steps.createIntent(input);
      if (created.outcome !== 'created') throw new Error('no intent');
      const confirmed = await steps.confirm({ ...input, paymentIntentId: created.paymentIntentId });
      if (confirmed.outcome === 'succeeded') await steps.finalize(input);
      else await steps.compensate({ ...input, status: 'failed', reason: 'payment_declined' });
      await expect(down.drain()).rejects.toThrow();
    }

    const before = await outboxRows();
    expect(before.total).toBeGreaterThanOrEqual(3 * 5);
    expect(before.pending).toBe(before.total);
    expect(await auditLogRows()).toBe(0);
    await down.close();

    // The audit database is back: a relay with the right address drains everything.
    const up = new AuditRelay(new PgAuditSink(process.env.AUDIT_DATABASE_URL!), 7);
    await up.drain(1000);
    expect(await outboxRows()).toEqual({ total: before.total, pending: 0 });
    expect(await auditLogRows()).toBe(before.total);

    // Re-sending (e.g. the app commit was lost after the audit write) adds nothing.
    await testPool().query('update audit_outbox set relayed_at = null where tenant_id = $1', [tenantId]);
    await up.drain(1000);
    expect(await auditLogRows()).toBe(before.total);

    const { rows } = await audit.query<{ entity: string; action: string; payload: Record<string, unknown> }>(
      `select entity, action, payload from audit_log where tenant_id = $1 and action = 'status:confirmed'`,
      [tenantId],
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.entity).toBe('order');
      expect(JSON.stringify(row.payload)).not.toMatch(/secret|pm_card/);
    }
    await up.close();

    // The relay ran for real here, so the oracle reads the audit database, not the outbox: the trail
    // that arrived after the outage still replays every status, and the money matches it.
    await expectInvariants([tenantId], { fake: fake(), relayed: true });
  });
});

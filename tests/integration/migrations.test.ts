import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PgAuditSink, type AuditRecord } from '../../shared/services/audit/audit-sink.js';

const MULTI_TENANT_TABLES = [
  'users',
  'refresh_tokens',
  'products',
  'inventory',
  'carts',
  'cart_lines',
  'orders',
  'order_lines',
  'reservations',
  'payments',
  'stripe_events',
  'reviews',
  'export_jobs',
  'audit_outbox',
  'fulfilments',
  'stock_movements',
  'order_events',
  'sent_notifications',
  'refunds',
];

describe('migrations', () => {
  it('give every multi-tenant table an index led by (tenant_id, created_at)', async () => {
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ tablename: string; indexdef: string }>(
        `select tablename, indexdef from pg_indexes where schemaname = 'public'`,
      );
      for (const table of MULTI_TENANT_TABLES) {
        const defs = rows.filter((r) => r.tablename === table).map((r) => r.indexdef);
        expect(
          defs.some((d) => /\(tenant_id, created_at/.test(d)),
          `${table}: ${defs.join(' | ')}`,
        ).toBe(true);
      }
    } finally {
      await client.end();
    }
  });

  it('drop the never-used idempotency_records table (0007)', async () => {
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query(`select to_regclass('public.idempotency_records') as t`);
      expect(rows[0].t).toBeNull();
    } finally {
      await client.end();
    }
  });

  it('create the separate audit database, whose log the relay only appends to: a re-sent outbox id never rewrites its row', async () => {
    // What makes the log append-only today is the relay's write (a re-send of a logged outbox id is a
    // no-op). The database-level refusal of UPDATE/DELETE (audit migration 0002) is tested in
    // tests/integration/db-roles/roles.test.ts.
    const client = new pg.Client({ connectionString: process.env.AUDIT_DATABASE_URL });
    await client.connect();
    const sink = new PgAuditSink(process.env.AUDIT_DATABASE_URL!);
    try {
      const record: AuditRecord = {
        outboxId: randomUUID(),
        tenantId: randomUUID(),
        entity: 'order',
        entityId: randomUUID(),
        action: 'status:confirmed',
        payload: { status: 'confirmed' },
        occurredAt: '2026-01-02T03:04:05.123456Z',
      };
      const stored = async (): Promise<unknown[]> =>
        (
          await client.query(
            `select outbox_id, tenant_id, entity, entity_id, action, payload, occurred_at, recorded_at
               from audit_log where outbox_id = $1`,
            [record.outboxId],
          )
        ).rows;
      await sink.write([record]);
      const first = await stored();
      expect(first).toEqual([
        expect.objectContaining({ action: 'status:confirmed', payload: { status: 'confirmed' } }),
      ]);
      // The relay re-sends after a lost acknowledgement — here with everything but the id changed.
      await sink.write([
        {
          ...record,
          entity: 'payment',
          action: 'status:refunded',
          payload: { status: 'refunded' },
          occurredAt: '2026-02-03T04:05:06Z',
        },
      ]);
      expect(await stored()).toEqual(first);
      await sink.write([record, record]);
      expect(await stored()).toEqual(first);
    } finally {
      await sink.close();
      await client.end();
    }
  });
});

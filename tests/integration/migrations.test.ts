import { describe, expect, it } from 'vitest';
import pg from 'pg';

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
  'idempotency_records',
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

  it('create the separate audit database with its append-only log', async () => {
    const client = new pg.Client({ connectionString: process.env.AUDIT_DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query(
        `select column_name from information_schema.columns where table_name = 'audit_log'`,
      );
      expect(rows.map((r) => r.column_name)).toContain('outbox_id');
    } finally {
      await client.end();
    }
  });
});

import pg from 'pg';

/** One outbox row on its way to the audit database. */
export interface AuditRecord {
  outboxId: string;
  tenantId: string;
  entity: string;
  entityId: string;
  action: string;
  payload: unknown;
  /** When the audited change committed (the outbox row's created_at, kept to the microsecond). */
  occurredAt: string;
}

/** Where relayed rows go. Writing the same outbox id twice must be a no-op (the relay may re-send). */
export interface AuditSink {
  write(records: readonly AuditRecord[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The separate audit database, over its own small pg pool (never the app's pool: an audit outage must
 * not hold application connections). Connection attempts give up quickly so a relay run against a
 * down database fails fast and the rows simply wait in the outbox.
 */
export class PgAuditSink implements AuditSink {
  private readonly pool: pg.Pool;

  constructor(connectionString: string, options: { connectTimeoutMs?: number } = {}) {
    this.pool = new pg.Pool({
      connectionString,
      max: 2,
      idleTimeoutMillis: 10_000,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 3_000,
      // A write that hangs (network partition) must not block the relay forever.
      query_timeout: 15_000,
    });
    // An idle client dropped by the server must not crash the process; the next write reconnects.
    this.pool.on('error', () => undefined);
  }

  async write(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One statement for the batch; the primary key on outbox_id makes a re-send a no-op.
    await this.pool.query(
      `insert into audit_log (outbox_id, tenant_id, entity, entity_id, action, payload, occurred_at)
       select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::jsonb[], $7::timestamptz[])
       on conflict (outbox_id) do nothing`,
      [
        records.map((r) => r.outboxId),
        records.map((r) => r.tenantId),
        records.map((r) => r.entity),
        records.map((r) => r.entityId),
        records.map((r) => r.action),
        records.map((r) => JSON.stringify(r.payload)),
        records.map((r) => r.occurredAt),
      ],
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

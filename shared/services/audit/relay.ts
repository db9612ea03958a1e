import { getSettings } from '../../config/index.js';
import { runUnitOfWork } from '../../db/unit-of-work.js';
import { PgAuditSink, type AuditRecord, type AuditSink } from './audit-sink.js';

interface OutboxSqlRow {
  id: string;
  tenant_id: string;
  entity: string;
  entity_id: string;
  action: string;
  payload: unknown;
  occurred_at: string;
}

/**
 * Copies outbox rows to the audit database, exactly once there: a batch is locked in the app database
 * (`for update skip locked`, so concurrent relays on several instances split the work), written to the
 * audit database (`on conflict (outbox_id) do nothing`), and only then marked relayed in the same app
 * transaction. If the audit write fails, the app transaction rolls back and the rows wait for the next
 * run; if the marking fails after the audit write, the next run re-sends them and the conflict clause
 * drops the duplicates.
 *
 * This is a system job across tenants: the outbox is read by `relayed_at is null`, not per tenant, and
 * every row carries its own tenant id into the audit log.
 */
export class AuditRelay {
  constructor(
    private readonly sink: AuditSink,
    private readonly batchSize = 500,
  ) {}

  /** Relays one batch; returns how many rows moved. Throws (rows untouched) when the sink fails. */
  async runOnce(): Promise<number> {
    return runUnitOfWork('write', async (em) => {
      const rows = await em.execute<OutboxSqlRow[]>(
        `select id, tenant_id, entity, entity_id, action, payload,
                to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as occurred_at
         from audit_outbox where relayed_at is null
         order by created_at, id limit ? for update skip locked`,
        [this.batchSize],
      );
      if (rows.length === 0) return 0;
      const records: AuditRecord[] = rows.map((row) => ({
        outboxId: row.id,
        tenantId: row.tenant_id,
        entity: row.entity,
        entityId: row.entity_id,
        action: row.action,
        payload: typeof row.payload === 'string' ? (JSON.parse(row.payload) as unknown) : row.payload,
        occurredAt: row.occurred_at,
      }));
      await this.sink.write(records);
      await em.execute(`update audit_outbox set relayed_at = now() where relayed_at is null and id in (?)`, [
        rows.map((row) => row.id),
      ]);
      return rows.length;
    });
  }

  /** Relays batches until the outbox is empty or `maxBatches` ran; returns the total moved. */
  async drain(maxBatches = 20): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const moved = await this.runOnce();
      total += moved;
      if (moved < this.batchSize) break;
    }
    return total;
  }

  async close(): Promise<void> {
    await this.sink.close();
  }
}

let relay: AuditRelay | undefined;

/** The process's relay to the audit database named by AUDIT_DATABASE_URL. */
export function getAuditRelay(): AuditRelay {
  relay ??= new AuditRelay(new PgAuditSink(getSettings().AUDIT_DATABASE_URL));
  return relay;
}

export async function closeAuditRelay(): Promise<void> {
  const current = relay;
  relay = undefined;
  await current?.close();
}

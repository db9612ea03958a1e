import { newId } from '../../utils/ids.js';
import type { DomainContext } from '../context.js';

/** The audited tables (the project reference: all writes to `orders` and `payments`; and stock). */
export type AuditedEntity = 'order' | 'payment' | 'stock';

/** Who did it: the caller's user id and role, or the system (checkout activities, timers). */
export interface AuditActor {
  userId: string | null;
  role: 'admin' | 'customer' | 'system';
}

export function actorOf(ctx: DomainContext): AuditActor {
  const principal = ctx.principal;
  if (!principal) return { userId: null, role: 'system' };
  return { userId: principal.userId, role: principal.roles.includes('admin') ? 'admin' : 'customer' };
}

export interface AuditEntry {
  entity: AuditedEntity;
  entityId: string;
  /** What happened, e.g. `created`, `status:paid`, `intent_created`. */
  action: string;
  /** What changed. Ids, statuses and amounts only: never card data, client secrets or PII. */
  payload: Record<string, unknown>;
}

/** A data-modifying statement whose `returning id` names the rows it changed. */
export interface AuditedChange {
  sql: string;
  params: unknown[];
}

/**
 * Writes audit rows into the outbox of the application database, through the context's unit of work:
 * the row commits or rolls back with the change it describes, so an audited write without its audit
 * row (or the reverse) cannot exist. The relay moves rows to the audit database later.
 */
export class AuditOutboxWriter {
  constructor(private readonly ctx: DomainContext) {}

  /** Every row names its actor (issue #18): who did it, whatever the entity. */
  private payload(payload: Record<string, unknown>): string {
    return JSON.stringify({ ...payload, actor: actorOf(this.ctx), correlationId: this.ctx.correlationId });
  }

  async record(entry: AuditEntry): Promise<void> {
    await this.ctx.em.execute(
      `insert into audit_outbox (id, tenant_id, entity, entity_id, action, payload)
       values (?, ?, ?, ?, ?, ?::jsonb)`,
      [newId(), this.ctx.tenantId, entry.entity, entry.entityId, entry.action, this.payload(entry.payload)],
    );
  }

  /**
   * Runs `change` and writes one audit row per row it changed, as ONE statement (a data-modifying
   * CTE): atomic without a transaction, and one round trip instead of two. Returns the changed ids;
   * none (and no audit row) when the change's conditions did not match.
   */
  async recordChange(change: AuditedChange, entry: Omit<AuditEntry, 'entityId'>): Promise<string[]> {
    const rows = await this.ctx.em.execute<{ entity_id: string }[]>(
      `with changed as (${change.sql})
       insert into audit_outbox (id, tenant_id, entity, entity_id, action, payload)
       select gen_random_uuid(), ?, ?, changed.id, ?, ?::jsonb from changed
       returning entity_id`,
      [...change.params, this.ctx.tenantId, entry.entity, entry.action, this.payload(entry.payload)],
    );
    return rows.map((row) => row.entity_id);
  }
}

import pg from 'pg';
import { AUDIT_TRAIL_POOL_MAX } from '../../db/capacity.js';
import { getSettings } from '../../config/index.js';
import type { DomainContext } from '../context.js';

export interface TrailEntry {
  id: string;
  entity: string;
  entityId: string;
  action: string;
  payload: Record<string, unknown>;
  /** ISO-8601 UTC, microseconds (the order of entries written in one transaction is kept by id). */
  occurredAt: string;
}

interface TrailSqlRow {
  id: string;
  entity: string;
  entity_id: string;
  action: string;
  payload: Record<string, unknown> | string;
  occurred_at: string;
}

const AT = `to_char(%s at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as occurred_at`;

function toEntry(row: TrailSqlRow): TrailEntry {
  return {
    id: row.id,
    entity: row.entity,
    entityId: row.entity_id,
    action: row.action,
    payload:
      typeof row.payload === 'string' ? (JSON.parse(row.payload) as Record<string, unknown>) : row.payload,
    occurredAt: row.occurred_at,
  };
}

let pool: pg.Pool | undefined;

/** A small read pool on the audit database, apart from the relay's (a slow read must not stall it). */
function auditPool(): pg.Pool {
  if (!pool) {
    pool = new pg.Pool({
      connectionString: getSettings().AUDIT_DATABASE_URL,
      max: AUDIT_TRAIL_POOL_MAX,
      idleTimeoutMillis: 10_000,
      connectionTimeoutMillis: 2_000,
      query_timeout: 5_000,
    });
    pool.on('error', () => undefined);
  }
  return pool;
}

export async function closeAuditTrail(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.end();
}

/**
 * The audit trail of some entities of the tenant, oldest first: what the audit database holds, plus the
 * outbox rows not relayed yet (read in the caller's unit of work), each once. When the audit database
 * cannot be read, the outbox's part comes back with `complete: false` rather than failing the request.
 */
export async function readAuditTrail(
  ctx: DomainContext,
  entityIds: readonly string[],
): Promise<{ entries: TrailEntry[]; complete: boolean }> {
  const pending = await ctx.em.execute<TrailSqlRow[]>(
    `select id, entity, entity_id, action, payload, ${AT.replace('%s', 'created_at')}
     from audit_outbox where tenant_id = ? and entity_id in (?) and relayed_at is null`,
    [ctx.tenantId, [...entityIds]],
  );
  let relayed: TrailSqlRow[] = [];
  let complete = true;
  try {
    const result = await auditPool().query<TrailSqlRow>(
      `select outbox_id as id, entity, entity_id, action, payload, ${AT.replace('%s', 'occurred_at')}
       from audit_log
       where entity = any($3::text[]) and entity_id = any($2::uuid[]) and tenant_id = $1`,
      [ctx.tenantId, [...entityIds], ['order', 'payment']],
    );
    relayed = result.rows;
  } catch (error) {
    complete = false;
    ctx.log.warn('audit trail: audit database unavailable', error instanceof Error ? error.message : '');
  }
  const byId = new Map<string, TrailEntry>();
  for (const row of [...relayed, ...pending]) byId.set(row.id, toEntry(row));
  const entries = [...byId.values()].sort((a, b) =>
    a.occurredAt === b.occurredAt ? 0 : a.occurredAt < b.occurredAt ? -1 : 1,
  );
  return { entries, complete };
}

import { readPoolMax } from './read-pool.js';
import { STREAM_POOL_MAX } from './stream-pool.js';

/**
 * PostgreSQL connections one Functions instance can open, pool by pool — the one formula the
 * infrastructure is sized with (tests/infra/capacity.test.ts checks every environment's parameters
 * against its server's max_connections; docs/adr/0091-durable-and-capacity.md).
 *
 * Pools of an instance (one worker process: FUNCTIONS_WORKER_PROCESS_COUNT is never set):
 * - ORM (shared/db/orm.ts getOrm): DATABASE_POOL_MAX minus the read pool's share;
 * - read (shared/db/read-pool.ts): a quarter of DATABASE_POOL_MAX, at least 1;
 * - stream (shared/db/stream-pool.ts): exports' cursors and progress;
 * - audit sink (shared/services/audit/audit-sink.ts PgAuditSink): the relay's writes to the audit database;
 * - audit trail (shared/services/audit/audit-trail.ts): the order desk's timeline reads, apart from the
 *   relay's pool so a slow read never stalls the relay;
 * - health (shared/services/health.ts): one kept connection to each database (app and audit) for the
 *   readiness probe, apart from the request pool so a busy instance is not reported down.
 * Not per instance: the audit ORM (getAuditOrm) and the migrations run in the deploy job only
 * (RESERVED_CONNECTIONS); Durable Functions keeps its state in Azure Storage, not PostgreSQL.
 */
export const AUDIT_SINK_POOL_MAX = 2;

/** The order desk's audit-trail reads (admin-only, rare): one connection is enough. */
export const AUDIT_TRAIL_POOL_MAX = 1;

/** Readiness probes: one connection per database, app and audit (two pools of this size). */
export const HEALTH_POOL_MAX = 1;

/** The deploy's migrate run (ORM 2 + audit ORM 4 + roles client 1) and a few operator sessions. */
export const RESERVED_CONNECTIONS = 10;

/** Azure reserves 15 connections of max_connections for replication and monitoring. */
export const AZURE_RESERVED_CONNECTIONS = 15;

/** The ORM pool's share of DATABASE_POOL_MAX (also the activity concurrency an instance can serve). */
export function ormPoolMax(poolMax: number): number {
  return Math.max(1, poolMax - readPoolMax(poolMax));
}

export function poolsPerInstance(
  poolMax: number,
): Record<'orm' | 'read' | 'stream' | 'auditSink' | 'auditTrail' | 'health', number> {
  return {
    orm: ormPoolMax(poolMax),
    read: readPoolMax(poolMax),
    stream: STREAM_POOL_MAX,
    auditSink: AUDIT_SINK_POOL_MAX,
    auditTrail: AUDIT_TRAIL_POOL_MAX,
    health: 2 * HEALTH_POOL_MAX,
  };
}

export function connectionsPerInstance(poolMax: number): number {
  return Object.values(poolsPerInstance(poolMax)).reduce((a, b) => a + b, 0);
}

/** Connections the whole app can hold at its instance cap, plus the reserve. */
export function connectionBudget(instances: number, poolMax: number): number {
  return instances * connectionsPerInstance(poolMax) + RESERVED_CONNECTIONS;
}

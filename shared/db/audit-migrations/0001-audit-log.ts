import { Migration } from '@mikro-orm/migrations';

/** The separate audit database: append-only, keyed by the app's outbox id so the relay is idempotent. */
export class AuditMigration0001Log extends Migration {
  override up(): void {
    this.addSql(`
create table audit_log (
  outbox_id uuid primary key,
  tenant_id uuid not null,
  entity text not null,
  entity_id uuid not null,
  action text not null,
  payload jsonb not null,
  occurred_at timestamptz not null,
  recorded_at timestamptz not null default now()
);
create index audit_log_tenant_occurred_idx on audit_log (tenant_id, occurred_at);
create index audit_log_entity_idx on audit_log (entity, entity_id);
`);
  }

  override down(): void {
    this.addSql('drop table if exists audit_log;');
  }
}

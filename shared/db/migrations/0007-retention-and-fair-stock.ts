import { Migration } from '@mikro-orm/migrations';

/**
 * Issue 19.
 * - `idempotency_records` goes: created by 0001 for a generic Idempotency-Key store that was never
 *   used (checkout keeps its key on the order under a unique constraint; nothing reads or writes this
 *   table, and no entity maps it any more). An empty table only costs a vacuum now and then, but a
 *   table that looks like it guards idempotency and does not is a trap for the next reader.
 * - Indexes for the retention purges (services/retention/retention.ts), each a narrow predicate the
 *   hourly run can walk instead of scanning the table: expired refresh tokens, old Stripe event ids,
 *   relayed outbox rows (partial: pending rows have their own index), finished export jobs.
 * - A partial index of each customer's open unpaid orders for the fair-stock caps
 *   (services/checkout/fair-stock.ts), read on every checkout.
 */
export class Migration0007RetentionAndFairStock extends Migration {
  override up(): void {
    this.addSql(`
drop table if exists idempotency_records;
create index refresh_tokens_expires_idx on refresh_tokens (expires_at);
create index stripe_events_created_idx on stripe_events (created_at);
create index audit_outbox_relayed_idx on audit_outbox (relayed_at) where relayed_at is not null;
create index export_jobs_finished_idx on export_jobs (updated_at) where status in ('completed', 'failed');
create index orders_user_open_idx on orders (tenant_id, user_id)
  where status in ('pending', 'reserved', 'awaiting_payment', 'requires_action');
`);
  }

  override down(): void {
    this.addSql(`
drop index if exists orders_user_open_idx;
drop index if exists export_jobs_finished_idx;
drop index if exists audit_outbox_relayed_idx;
drop index if exists stripe_events_created_idx;
drop index if exists refresh_tokens_expires_idx;
create table idempotency_records (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  user_id uuid not null references users(id),
  scope text not null,
  key text not null,
  request_hash text not null,
  response_status integer,
  response_body jsonb,
  created_at timestamptz not null default now(),
  unique (tenant_id, user_id, scope, key)
);
create index idempotency_records_tenant_created_idx on idempotency_records (tenant_id, created_at);
`);
  }
}

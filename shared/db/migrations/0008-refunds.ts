import { Migration } from '@mikro-orm/migrations';

/**
 * Refunds, cancellations and disputes (issue #18 items 2 and 3).
 *
 * - `payments.refunded_cents`: what was refunded or is being refunded (pending refunds count, so two
 *   admins can never both be granted the last euro). The check makes over-refunding impossible even for
 *   a statement that forgets the conditional update.
 * - `payments.disputed`: a chargeback was opened on the payment (set by `charge.dispute.*` webhooks).
 * - `refunds`: one row per refund, ours (with the admin's Idempotency-Key and a hash of the request)
 *   or Stripe's (made in the dashboard: `stripe_refund_id` only). `stripe_refund_id` is unique, which
 *   dedupes a webhook that reports a refund twice or one that we created ourselves.
 * - `orders.cancel_reason` and status `cancelled` reachable from `confirmed` (state machine, ADR 0060).
 */
export class Migration0008Refunds extends Migration {
  override up(): void {
    this.addSql(`
alter table payments add column refunded_cents bigint not null default 0;
alter table payments add column disputed boolean not null default false;
alter table payments add constraint payments_refunded_within_amount
  check (refunded_cents >= 0 and refunded_cents <= amount_cents);
alter table orders add column cancel_reason text;

create table refunds (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  order_id uuid not null references orders(id),
  amount_cents bigint not null check (amount_cents > 0),
  reason text not null,
  status text not null check (status in ('pending', 'succeeded', 'failed')),
  source text not null check (source in ('admin', 'cancel', 'stripe')),
  idempotency_key text,
  request_hash text,
  stripe_refund_id text unique,
  actor_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index refunds_idempotency_idx on refunds (tenant_id, order_id, idempotency_key)
  where idempotency_key is not null;
create index refunds_order_idx on refunds (tenant_id, order_id, created_at);
create index refunds_tenant_created_idx on refunds (tenant_id, created_at);
create index refunds_pending_idx on refunds (created_at) where status = 'pending';
`);
  }

  override down(): void {
    this.addSql(`
drop table if exists refunds;
alter table orders drop column cancel_reason;
alter table payments drop constraint payments_refunded_within_amount;
alter table payments drop column disputed;
alter table payments drop column refunded_cents;
`);
  }
}

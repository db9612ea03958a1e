import { Migration } from '@mikro-orm/migrations';

/**
 * After checkout (issue #18): the shipping address, fulfilment, the stock ledger, the order-events
 * outbox and the notifications' idempotency keys.
 *
 * - `orders.shipping_address_enc`: the address as one Fernet token (PII at rest, like users' columns).
 * - Status `shipped` (and `refunded`, which refunds will set) join the check constraint.
 * - `fulfilments`: one per order (the primary key makes a repeated ship the same fulfilment).
 * - `stock_movements`: every change of a product's stock with its cause. Reservations, sales and
 *   releases are recorded by triggers on `reservations`, so `reserve_stock` and the commit/release
 *   statements stay one statement each and no checkout code changes; adjustments and restocks are
 *   written by the statement that changes the stock. `on_hand_delta` and `reserved_delta` are the
 *   movement's effect on on-hand (available + reserved) and reserved.
 * - `order_events`: the transactional outbox of order events (relayed to the `order-events` queue).
 * - `sent_notifications`: one row per event emailed; its key makes a redelivery send nothing.
 * - The order desk's filters: status (newest first) has its own index; the email filter goes through
 *   users' blind index to orders_user_history_idx.
 */
export class Migration0006OrderLifecycle extends Migration {
  override up(): void {
    this.addSql(`
alter table orders add column shipping_address_enc text;
alter table orders drop constraint orders_status_check;
alter table orders add constraint orders_status_check check (status in ('pending', 'reserved',
  'awaiting_payment', 'requires_action', 'paid', 'confirmed', 'shipped', 'refunded', 'failed', 'cancelled',
  'expired'));
create index orders_tenant_status_created_idx on orders (tenant_id, status, created_at desc, id desc);

create table fulfilments (
  order_id uuid primary key references orders(id),
  tenant_id uuid not null references tenants(id),
  carrier text not null,
  tracking_number text not null,
  shipped_by uuid not null references users(id),
  created_at timestamptz not null default now()
);
create index fulfilments_tenant_created_idx on fulfilments (tenant_id, created_at);

create table stock_movements (
  id bigint generated always as identity primary key,
  tenant_id uuid not null,
  product_id uuid not null,
  kind text not null check (kind in ('reservation', 'sale', 'release', 'restock', 'adjustment')),
  on_hand_delta integer not null,
  reserved_delta integer not null,
  order_id uuid,
  reason text,
  actor_id uuid,
  created_at timestamptz not null default now()
);
create index stock_movements_tenant_created_idx on stock_movements (tenant_id, created_at);
create index stock_movements_product_idx on stock_movements (product_id, id desc);

-- One row per reservation event, so the ledger needs no change to reserve_stock or the settle
-- statements. A reservation deleted while still active (reserve_stock's all-or-nothing undo, inside the
-- same statement that made it) takes its ledger row with it: it never held stock.
create function stock_movement_from_reservation() returns trigger
language plpgsql
as $fn$
begin
  if tg_op = 'INSERT' then
    if new.status = 'active' then
      insert into stock_movements (tenant_id, product_id, kind, on_hand_delta, reserved_delta, order_id)
      values (new.tenant_id, new.product_id, 'reservation', 0, new.quantity, new.order_id);
    end if;
  elsif tg_op = 'UPDATE' then
    if old.status = 'active' and new.status = 'committed' then
      insert into stock_movements (tenant_id, product_id, kind, on_hand_delta, reserved_delta, order_id)
      values (new.tenant_id, new.product_id, 'sale', -new.quantity, -new.quantity, new.order_id);
    elsif old.status = 'active' and new.status = 'released' then
      -- The releasing transaction may name its cause (e.g. 'cancelled'): set local app.stock_cause.
      insert into stock_movements (tenant_id, product_id, kind, on_hand_delta, reserved_delta, order_id, reason)
      values (new.tenant_id, new.product_id, 'release', 0, -new.quantity, new.order_id,
              nullif(current_setting('app.stock_cause', true), ''));
    end if;
  elsif tg_op = 'DELETE' and old.status = 'active' then
    delete from stock_movements m
     where m.order_id = old.order_id and m.product_id = old.product_id and m.kind = 'reservation';
  end if;
  return null;
end
$fn$;
create trigger reservations_stock_movements
  after insert or update of status or delete on reservations
  for each row execute function stock_movement_from_reservation();
create index stock_movements_order_idx on stock_movements (order_id, product_id) where order_id is not null;

create table order_events (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  order_id uuid not null references orders(id),
  type text not null check (type in ('order.confirmed', 'order.cancelled', 'order.refunded',
    'order.shipped', 'order.payment_failed')),
  body jsonb not null,
  relayed_at timestamptz,
  created_at timestamptz not null default now()
);
create index order_events_tenant_created_idx on order_events (tenant_id, created_at);
create index order_events_pending_idx on order_events (created_at, id) where relayed_at is null;

create table sent_notifications (
  event_id uuid primary key,
  tenant_id uuid not null references tenants(id),
  order_id uuid not null,
  type text not null,
  channel text not null,
  created_at timestamptz not null default now()
);
create index sent_notifications_tenant_created_idx on sent_notifications (tenant_id, created_at);
`);
  }

  override down(): void {
    this.addSql(`
drop table if exists sent_notifications, order_events, fulfilments;
drop trigger if exists reservations_stock_movements on reservations;
drop function if exists stock_movement_from_reservation();
drop table if exists stock_movements;
drop index if exists orders_tenant_status_created_idx;
alter table orders drop constraint orders_status_check;
alter table orders add constraint orders_status_check check (status in ('pending', 'reserved',
  'awaiting_payment', 'requires_action', 'paid', 'confirmed', 'failed', 'cancelled', 'expired'));
alter table orders drop column shipping_address_enc;
`);
  }
}

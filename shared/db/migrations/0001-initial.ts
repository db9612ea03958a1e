import { Migration } from '@mikro-orm/migrations';

/**
 * The whole domain schema. Hand-written SQL: generated tsvector columns, partial indexes and CHECK
 * constraints are the point, and the ORM's diff would drop objects it does not model.
 * Every multi-tenant table carries `tenant_id` and an index on (tenant_id, created_at).
 */
export class Migration0001Initial extends Migration {
  override up(): void {
    this.addSql(`
create table tenants (
  id uuid primary key,
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  name text not null,
  created_at timestamptz not null default now()
);

create table users (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  email_enc text not null,
  email_bidx text not null,
  phone_enc text,
  address_enc text,
  name text not null,
  password_hash text not null,
  roles text[] not null default '{customer}',
  password_changed_at timestamptz not null default now(),
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, email_bidx)
);
create index users_tenant_created_idx on users (tenant_id, created_at);

create table refresh_tokens (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  user_id uuid not null references users(id) on delete cascade,
  family_id uuid not null,
  token_hash text not null unique,
  expires_at timestamptz not null,
  rotated_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now()
);
create index refresh_tokens_tenant_created_idx on refresh_tokens (tenant_id, created_at);
create index refresh_tokens_family_idx on refresh_tokens (family_id);
create index refresh_tokens_user_idx on refresh_tokens (user_id);

create table products (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  sku text not null,
  name text not null,
  description text not null default '',
  price_cents bigint not null check (price_cents >= 0),
  currency char(3) not null check (currency ~ '^[A-Z]{3}$'),
  status text not null default 'active' check (status in ('active', 'archived')),
  rating_count integer not null default 0,
  rating_sum integer not null default 0,
  search tsvector generated always as (
    setweight(to_tsvector('english', coalesce(name, '')), 'A') ||
    setweight(to_tsvector('english', coalesce(description, '')), 'B')
  ) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, sku)
);
create index products_tenant_created_idx on products (tenant_id, created_at, id);
create index products_tenant_active_created_idx on products (tenant_id, created_at desc, id desc) where status = 'active';
create index products_tenant_active_price_idx on products (tenant_id, price_cents, id) where status = 'active';
create index products_search_idx on products using gin (search);

-- available + reserved + sold is conserved by every stock movement but an admin's set of the quantity.
create table inventory (
  product_id uuid primary key references products(id),
  tenant_id uuid not null references tenants(id),
  available integer not null check (available >= 0),
  reserved integer not null default 0 check (reserved >= 0),
  sold integer not null default 0 check (sold >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index inventory_tenant_created_idx on inventory (tenant_id, created_at);

create table carts (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  user_id uuid not null references users(id) on delete cascade,
  version integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, user_id)
);
create index carts_tenant_created_idx on carts (tenant_id, created_at);

create table cart_lines (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  cart_id uuid not null references carts(id) on delete cascade,
  product_id uuid not null references products(id),
  quantity integer not null check (quantity between 1 and 99),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (cart_id, product_id)
);
create index cart_lines_tenant_created_idx on cart_lines (tenant_id, created_at);

create table orders (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  user_id uuid not null references users(id),
  status text not null check (status in ('pending', 'reserved', 'awaiting_payment', 'requires_action',
    'paid', 'confirmed', 'failed', 'cancelled', 'expired')),
  total_cents bigint not null check (total_cents >= 0),
  currency char(3) not null,
  idempotency_key text not null,
  request_hash text not null,
  payment_method_id text not null,
  failure_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, user_id, idempotency_key)
);
create index orders_tenant_created_idx on orders (tenant_id, created_at, id);
create index orders_user_history_idx on orders (tenant_id, user_id, created_at desc, id desc);

create table order_lines (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  order_id uuid not null references orders(id) on delete cascade,
  product_id uuid not null references products(id),
  name text not null,
  quantity integer not null check (quantity > 0),
  unit_price_cents bigint not null check (unit_price_cents >= 0),
  line_total_cents bigint not null check (line_total_cents >= 0),
  created_at timestamptz not null default now()
);
create index order_lines_tenant_created_idx on order_lines (tenant_id, created_at);
create index order_lines_order_idx on order_lines (order_id);

create table reservations (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  order_id uuid not null references orders(id),
  product_id uuid not null references products(id),
  quantity integer not null check (quantity > 0),
  status text not null check (status in ('active', 'committed', 'released')),
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (order_id, product_id)
);
create index reservations_tenant_created_idx on reservations (tenant_id, created_at);
create index reservations_expiry_idx on reservations (expires_at) where status = 'active';

-- Payment data is Stripe ids and amounts only: never card data.
create table payments (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  order_id uuid not null unique references orders(id),
  provider text not null default 'stripe',
  payment_intent_id text unique,
  status text not null,
  amount_cents bigint not null,
  currency char(3) not null,
  client_secret text,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index payments_tenant_created_idx on payments (tenant_id, created_at);

create table stripe_events (
  id text primary key,
  tenant_id uuid references tenants(id),
  type text not null,
  payment_intent_id text,
  created_at timestamptz not null default now()
);
create index stripe_events_tenant_created_idx on stripe_events (tenant_id, created_at);

create table reviews (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  product_id uuid not null references products(id),
  user_id uuid not null references users(id),
  rating smallint not null check (rating between 1 and 5),
  title text not null,
  body text not null,
  created_at timestamptz not null default now(),
  unique (product_id, user_id)
);
create index reviews_tenant_created_idx on reviews (tenant_id, created_at desc, id desc);
create index reviews_product_created_idx on reviews (product_id, created_at desc, id desc);

create table export_jobs (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  requested_by uuid not null references users(id),
  status text not null check (status in ('queued', 'running', 'completed', 'failed')),
  range_from timestamptz not null,
  range_to timestamptz not null,
  status_filter text,
  rows_exported bigint not null default 0,
  bytes bigint not null default 0,
  blob_name text,
  error text,
  attempts integer not null default 0,
  started_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index export_jobs_tenant_created_idx on export_jobs (tenant_id, created_at);

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

create table audit_outbox (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  entity text not null,
  entity_id uuid not null,
  action text not null,
  payload jsonb not null,
  relayed_at timestamptz,
  created_at timestamptz not null default now()
);
create index audit_outbox_tenant_created_idx on audit_outbox (tenant_id, created_at);
create index audit_outbox_pending_idx on audit_outbox (created_at, id) where relayed_at is null;
`);
  }

  override down(): void {
    this.addSql(`drop table if exists audit_outbox, idempotency_records, export_jobs, reviews, stripe_events,
      payments, reservations, order_lines, orders, cart_lines, carts, inventory, products, refresh_tokens,
      users, tenants cascade;`);
  }
}

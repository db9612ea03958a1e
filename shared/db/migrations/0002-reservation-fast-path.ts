import { Migration } from '@mikro-orm/migrations';

/**
 * Reservation in one round trip, with less to write per reservation (issue #7 benchmark).
 *
 * - `reservations` is keyed by what identifies a reservation, (order_id, product_id): the surrogate
 *   `id` primary key and its index go; the unique key that every query already used becomes the
 *   primary key. `id` stays as a plain column with a default because test tooling still names it;
 *   nothing references it and no index maintains it.
 * - The tenant and product foreign keys become one composite key to the inventory row the reservation
 *   draws on, checked at commit. The tenant key made every concurrent reservation share-lock the one
 *   tenant row (a multixact per insert under load); at commit the inventory row is one this
 *   transaction has just updated and still holds, so its check waits on nobody. Stricter, too: a
 *   reservation's tenant must be its stock's.
 * - `reserve_stock` reserves an order as ONE statement, so it is atomic without a transaction and costs
 *   one round trip however many lines; in PL/pgSQL its statements are planned once per connection, not
 *   per call. Lines are taken in ascending product-id order (the global lock order; anything else is
 *   refused). Per line: a plain read of the stock, so a product visibly short (a sell-out) costs no
 *   write; then the reservation row — `on conflict do nothing` tells a re-run (the order already holds
 *   the line: skipped; a concurrent duplicate run waits for the first, then skips) from a new line —
 *   then the atomic conditional decrement (`available >= q`), which alone decides. Writing the row
 *   before taking the inventory row's lock keeps that lock, the hot product's bottleneck, held only for
 *   the decrement and the commit. A line that cannot be held (short, another tenant's product, or an
 *   order whose reservation was released) stops the call, which first gives back everything it took,
 *   so it reserves all or nothing even inside a caller's transaction; it then returns that line, else
 *   no row.
 * - The index on `expires_at` where status = 'active' serves the sweeper; (tenant_id, created_at) stays
 *   (the schema rule for every multi-tenant table).
 */
export class Migration0002ReservationFastPath extends Migration {
  override up(): void {
    this.addSql(`
alter table reservations drop constraint reservations_pkey;
alter table reservations drop constraint reservations_order_id_product_id_key;
alter table reservations add constraint reservations_pkey primary key (order_id, product_id);
alter table reservations alter column id set default gen_random_uuid();

alter table inventory add constraint inventory_product_tenant_key unique (product_id, tenant_id);
alter table reservations
  drop constraint reservations_tenant_id_fkey,
  drop constraint reservations_product_id_fkey,
  add constraint reservations_inventory_fkey foreign key (product_id, tenant_id)
    references inventory (product_id, tenant_id) deferrable initially deferred;

create function reserve_stock(
  p_tenant_id uuid, p_order_id uuid, p_products uuid[], p_quantities integer[], p_ttl_seconds integer
) returns table (stopped_product_id uuid, stopped_status text, stopped_available integer)
language plpgsql
as $fn$
declare
  v_expires timestamptz := now() + make_interval(secs => p_ttl_seconds);
  v_taken uuid[] := '{}';
  v_product uuid;
  v_quantity integer;
  v_available integer;
  v_held text;
begin
  if cardinality(p_products) is distinct from cardinality(p_quantities) then
    raise exception 'reserve_stock: % products but % quantities', cardinality(p_products), cardinality(p_quantities);
  end if;
  for k in 1 .. coalesce(cardinality(p_products), 0) loop
    v_product := p_products[k];
    v_quantity := p_quantities[k];
    if k > 1 and v_product <= p_products[k - 1] then
      raise exception 'reserve_stock: products must be distinct and in ascending order';
    end if;

    v_held := null;
    select inv.available into v_available
      from inventory inv where inv.product_id = v_product and inv.tenant_id = p_tenant_id;
    if v_available >= v_quantity then
      insert into reservations (order_id, product_id, tenant_id, quantity, status, expires_at)
      values (p_order_id, v_product, p_tenant_id, v_quantity, 'active', v_expires)
      on conflict (order_id, product_id) do nothing;
      if found then
        update inventory inv
           set available = inv.available - v_quantity, reserved = inv.reserved + v_quantity, updated_at = now()
         where inv.product_id = v_product and inv.tenant_id = p_tenant_id and inv.available >= v_quantity;
        if found then
          v_taken := v_taken || v_product;
          continue;
        end if;
        delete from reservations r where r.order_id = p_order_id and r.product_id = v_product;
      else
        select r.status into v_held from reservations r where r.order_id = p_order_id and r.product_id = v_product;
      end if;
    else
      select r.status into v_held from reservations r where r.order_id = p_order_id and r.product_id = v_product;
    end if;
    if v_held in ('active', 'committed') then
      continue;
    end if;

    if cardinality(v_taken) > 0 then
      with undone as (
        delete from reservations r where r.order_id = p_order_id and r.product_id = any (v_taken)
        returning r.product_id, r.quantity
      )
      update inventory inv
         set available = inv.available + undone.quantity, reserved = inv.reserved - undone.quantity,
             updated_at = now()
        from undone
       where inv.product_id = undone.product_id;
    end if;
    stopped_product_id := v_product;
    stopped_status := coalesce(v_held, 'insufficient');
    select inv.available into stopped_available
      from inventory inv where inv.product_id = v_product and inv.tenant_id = p_tenant_id;
    stopped_available := coalesce(stopped_available, 0);
    return next;
    return;
  end loop;
end
$fn$;
`);
  }

  override down(): void {
    this.addSql(`
drop function if exists reserve_stock(uuid, uuid, uuid[], integer[], integer);
alter table reservations
  drop constraint reservations_inventory_fkey,
  add constraint reservations_tenant_id_fkey foreign key (tenant_id) references tenants (id),
  add constraint reservations_product_id_fkey foreign key (product_id) references products (id);
alter table inventory drop constraint inventory_product_tenant_key;
alter table reservations alter column id drop default;
alter table reservations drop constraint reservations_pkey;
alter table reservations add constraint reservations_order_id_product_id_key unique (order_id, product_id);
alter table reservations add constraint reservations_pkey primary key (id);
`);
  }
}

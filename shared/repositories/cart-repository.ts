import type { DomainContext } from '../services/context.js';
import type { CartLineRow } from '../services/cart/cart-pricing.js';
import { newId } from '../utils/ids.js';

/** A cart row as a write left it: its id and the version this write moved it to. */
export interface CartVersion {
  id: string;
  version: number;
}

/** A product as the cart needs it: current price and whether, and how many, can be bought. */
export interface ProductForCart {
  id: string;
  name: string;
  unitPriceCents: number;
  currency: string;
  active: boolean;
  available: number;
}

export interface CartState extends CartVersion {
  rows: CartLineRow[];
}

interface LineSqlRow {
  product_id: string;
  quantity: number;
  name: string;
  price_cents: string | number;
  currency: string;
  status: string;
}

/** int8 arrives from pg as a string; money must stay an exact integer or fail loudly. */
function exactInteger(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error('stored amount is not a safe integer');
  return n;
}

function toLineRow(row: LineSqlRow): CartLineRow {
  return {
    productId: row.product_id,
    name: row.name,
    quantity: row.quantity,
    unitPriceCents: exactInteger(row.price_cents),
    currency: row.currency,
    active: row.status === 'active',
  };
}

// Lines in the order they were first added; clock_timestamp() on insert makes that the commit order,
// because every line write happens while its cart row is locked.
const LINE_ORDER = 'l.created_at, l.product_id';

/**
 * Cart persistence as single SQL statements, each atomic on its own: the cart row is created or
 * versioned by one upsert/conditional update, lines by one upsert/delete. Every statement is scoped
 * to the context's tenant and runs in the invocation's unit of work (`em.execute`).
 *
 * Locking: every change first bumps the cart row (taking its row lock until commit), then touches
 * lines. So writers of one cart are serialised in one order, line statements of a cart never race,
 * and two carts never wait on each other.
 */
export class CartRepository {
  constructor(private readonly ctx: DomainContext) {}

  async findProduct(productId: string): Promise<ProductForCart | undefined> {
    const rows = await this.ctx.em.execute<
      { id: string; name: string; price_cents: string; currency: string; status: string; available: number }[]
    >(
      `select p.id, p.name, p.price_cents, p.currency, p.status, coalesce(i.available, 0) as available
         from products p
         left join inventory i on i.product_id = p.id and i.tenant_id = p.tenant_id
        where p.id = ? and p.tenant_id = ?`,
      [productId, this.ctx.tenantId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      id: row.id,
      name: row.name,
      unitPriceCents: exactInteger(row.price_cents),
      currency: row.currency,
      active: row.status === 'active',
      available: row.available,
    };
  }

  /**
   * Creates the cart at version 1 or bumps its version — one statement, so concurrent first writes
   * all succeed (the losers of the insert race become bumps) and every writer gets a distinct version.
   */
  async bump(userId: string): Promise<CartVersion> {
    const rows = await this.ctx.em.execute<CartVersion[]>(
      `insert into carts (id, tenant_id, user_id, version) values (?, ?, ?, 1)
       on conflict (tenant_id, user_id) do update set version = carts.version + 1, updated_at = now()
       returning id, version`,
      [newId(), this.ctx.tenantId, userId],
    );
    return rows[0]!;
  }

  /**
   * Bumps the version only if it is one of `expected` — the check and the bump are one conditional
   * UPDATE, so of several writers holding the same version exactly one passes. Undefined = precondition
   * failed (nothing was changed). Version 0 means "never written": the row is created first so the
   * same UPDATE can claim it.
   */
  async bumpIfVersion(userId: string, expected: readonly number[]): Promise<CartVersion | undefined> {
    if (expected.length === 0) return undefined;
    if (expected.includes(0)) {
      await this.ctx.em.execute(
        `insert into carts (id, tenant_id, user_id) values (?, ?, ?) on conflict (tenant_id, user_id) do nothing`,
        [newId(), this.ctx.tenantId, userId],
      );
    }
    const rows = await this.ctx.em.execute<CartVersion[]>(
      `update carts set version = version + 1, updated_at = now()
        where tenant_id = ? and user_id = ? and version in (?)
        returning id, version`,
      [this.ctx.tenantId, userId, [...expected]],
    );
    return rows[0];
  }

  /** One line per product: the unique (cart_id, product_id) makes a repeat an update, never a duplicate. */
  async upsertLine(cartId: string, productId: string, quantity: number): Promise<void> {
    await this.ctx.em.execute(
      `insert into cart_lines (id, tenant_id, cart_id, product_id, quantity, created_at, updated_at)
       values (?, ?, ?, ?, ?, clock_timestamp(), clock_timestamp())
       on conflict (cart_id, product_id) do update set quantity = excluded.quantity, updated_at = excluded.updated_at`,
      [newId(), this.ctx.tenantId, cartId, productId, quantity],
    );
  }

  async deleteLine(cartId: string, productId: string): Promise<void> {
    await this.ctx.em.execute(
      'delete from cart_lines where cart_id = ? and tenant_id = ? and product_id = ?',
      [cartId, this.ctx.tenantId, productId],
    );
  }

  async deleteAllLines(cartId: string): Promise<void> {
    await this.ctx.em.execute('delete from cart_lines where cart_id = ? and tenant_id = ?', [
      cartId,
      this.ctx.tenantId,
    ]);
  }

  /**
   * Takes ordered quantities out of the cart: a line whose quantity is covered goes, a line that grew
   * since keeps the difference. Two statements, both under the cart row lock taken by the bump.
   */
  async subtractQuantities(
    cartId: string,
    lines: readonly { productId: string; quantity: number }[],
  ): Promise<void> {
    if (lines.length === 0) return;
    const ordered = JSON.stringify(lines.map((l) => ({ product_id: l.productId, quantity: l.quantity })));
    const params = [ordered, cartId, this.ctx.tenantId];
    await this.ctx.em.execute(
      `delete from cart_lines l using jsonb_to_recordset(?::jsonb) as o(product_id uuid, quantity int)
        where l.cart_id = ? and l.tenant_id = ? and l.product_id = o.product_id and l.quantity <= o.quantity`,
      params,
    );
    await this.ctx.em.execute(
      `update cart_lines l set quantity = l.quantity - o.quantity, updated_at = clock_timestamp()
         from jsonb_to_recordset(?::jsonb) as o(product_id uuid, quantity int)
        where l.cart_id = ? and l.tenant_id = ? and l.product_id = o.product_id and l.quantity > o.quantity`,
      params,
    );
  }

  /** The lines of a cart with their products as they are now (inside a write, after its changes). */
  async readLines(cartId: string): Promise<CartLineRow[]> {
    const rows = await this.ctx.em.execute<LineSqlRow[]>(
      `select l.product_id, l.quantity, p.name, p.price_cents, p.currency, p.status
         from cart_lines l
         join products p on p.id = l.product_id and p.tenant_id = l.tenant_id
        where l.cart_id = ? and l.tenant_id = ?
        order by ${LINE_ORDER}`,
      [cartId, this.ctx.tenantId],
    );
    return rows.map(toLineRow);
  }

  /**
   * The user's cart, version and lines read by ONE statement, so they come from one snapshot: the
   * version always describes exactly these lines (what a checkout snapshot and an ETag need).
   * Undefined when the user never wrote to a cart.
   */
  async findByUser(userId: string): Promise<CartState | undefined> {
    const rows = await this.ctx.em.execute<
      ({ cart_id: string; version: number } & (LineSqlRow | { [K in keyof LineSqlRow]: null }))[]
    >(
      `select c.id as cart_id, c.version, l.product_id, l.quantity, p.name, p.price_cents, p.currency, p.status
         from carts c
         left join cart_lines l on l.cart_id = c.id and l.tenant_id = c.tenant_id
         left join products p on p.id = l.product_id and p.tenant_id = l.tenant_id
        where c.tenant_id = ? and c.user_id = ?
        order by ${LINE_ORDER}`,
      [this.ctx.tenantId, userId],
    );
    const first = rows[0];
    if (!first) return undefined;
    const lines: CartLineRow[] = [];
    for (const row of rows) if (row.product_id !== null) lines.push(toLineRow(row));
    return { id: first.cart_id, version: first.version, rows: lines };
  }
}

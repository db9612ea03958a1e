import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { ConflictException } from '../errors/index.js';
import type { ProductSort } from '../schemas/catalog.js';
import type { DomainContext } from '../services/context.js';
import { newId } from '../utils/ids.js';

/**
 * Products, always scoped to the context's tenant; public reads see active products only. Raw SQL via
 * `em.execute`: it joins the invocation's transaction, and MikroORM sends it with the values inlined
 * (simple protocol), so every statement is planned for its own values — no generic-plan trap.
 */

/** A timestamp as an exact, sortable key: ISO 8601 in UTC with microseconds (a JS Date keeps ms). */
export const createdKey = (column: string): string =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export const PRODUCT_COLUMNS = `p.id, p.sku, p.name, p.description, p.price_cents, p.currency, p.rating_count,
  p.rating_sum, ${createdKey('p.created_at')} as created_key`;

export interface ProductRow {
  id: string;
  sku: string;
  name: string;
  description: string;
  /** int8 arrives as a string. */
  price_cents: string | number;
  currency: string;
  rating_count: number;
  rating_sum: number;
  created_key: string;
}

export interface ProductDetailRow extends ProductRow {
  available: number;
  /** products.version: the ETag (see migration 0009). */
  version: number;
}

/** What a detail read selects beyond PRODUCT_COLUMNS (lists and search need no version). */
const DETAIL_COLUMNS = `${PRODUCT_COLUMNS}, p.version`;

/** Where the next page starts, for each sort order (the last row's sort key). */
export type ProductListAfter =
  | { sort: 'newest'; createdKey: string; id: string }
  | { sort: 'price_asc' | 'price_desc'; priceCents: number; id: string };

export interface ProductListFilter {
  sort: ProductSort;
  minPrice?: number | undefined;
  maxPrice?: number | undefined;
  after?: ProductListAfter | undefined;
  limit: number;
}

export interface ProductInsert {
  sku: string;
  name: string;
  description: string;
  priceCents: number;
  currency: string;
  stock: number;
}

export type ProductUpdate = Partial<Omit<ProductInsert, 'stock'>>;

const ORDER: Record<ProductSort, string> = {
  newest: 'p.created_at desc, p.id desc',
  price_asc: 'p.price_cents, p.id',
  price_desc: 'p.price_cents desc, p.id desc',
};

const UPDATABLE: Record<keyof ProductUpdate, string> = {
  sku: 'sku',
  name: 'name',
  description: 'description',
  priceCents: 'price_cents',
  currency: 'currency',
};

export class ProductRepository {
  constructor(private readonly ctx: DomainContext) {}

  /** An active product with its sellable stock, or null (missing, archived or another tenant's). */
  async findActive(id: string): Promise<ProductDetailRow | null> {
    const rows = await this.ctx.em.execute<ProductDetailRow[]>(
      `select ${DETAIL_COLUMNS}, coalesce(i.available, 0) as available
         from products p
         left join inventory i on i.product_id = p.id and i.tenant_id = p.tenant_id
        where p.id = ? and p.tenant_id = ? and p.status = 'active'`,
      [id, this.ctx.tenantId],
    );
    return rows[0] ?? null;
  }

  /** One keyset page of active products (fetch `limit + 1` to know whether more follow). */
  async list(filter: ProductListFilter): Promise<ProductRow[]> {
    const where: string[] = ['p.tenant_id = ?', `p.status = 'active'`];
    const params: unknown[] = [this.ctx.tenantId];
    if (filter.minPrice !== undefined) {
      where.push('p.price_cents >= ?');
      params.push(filter.minPrice);
    }
    if (filter.maxPrice !== undefined) {
      where.push('p.price_cents <= ?');
      params.push(filter.maxPrice);
    }
    const after = filter.after;
    if (after?.sort === 'newest') {
      where.push('(p.created_at, p.id) < (?::timestamptz, ?::uuid)');
      params.push(after.createdKey, after.id);
    } else if (after) {
      where.push(`(p.price_cents, p.id) ${after.sort === 'price_asc' ? '>' : '<'} (?, ?::uuid)`);
      params.push(after.priceCents, after.id);
    }
    params.push(filter.limit);
    return this.ctx.em.execute<ProductRow[]>(
      `select ${PRODUCT_COLUMNS} from products p
        where ${where.join(' and ')}
        order by ${ORDER[filter.sort]}
        limit ?`,
      params,
    );
  }

  /** Creates the product and its inventory row in one statement; null when the SKU is taken. */
  async insert(input: ProductInsert): Promise<ProductDetailRow | null> {
    const rows = await this.ctx.em.execute<ProductDetailRow[]>(
      `with p as (
         insert into products (id, tenant_id, sku, name, description, price_cents, currency)
         values (?, ?, ?, ?, ?, ?, ?)
         on conflict (tenant_id, sku) do nothing
         returning *
       ), i as (
         insert into inventory (product_id, tenant_id, available)
         select id, tenant_id, ? from p
         returning product_id, tenant_id, available
       ), m as (
         insert into stock_movements (tenant_id, product_id, kind, on_hand_delta, reserved_delta, reason, actor_id)
         select tenant_id, product_id, 'restock', available, 0, 'initial stock', ?::uuid from i where available > 0
       )
       select ${DETAIL_COLUMNS}, i.available from p, i`,
      [
        newId(),
        this.ctx.tenantId,
        input.sku,
        input.name,
        input.description,
        input.priceCents,
        input.currency,
        input.stock,
        this.ctx.principal?.userId ?? null,
      ],
    );
    return rows[0] ?? null;
  }

  /**
   * Applies the given fields to an active product and bumps its version; null when there is no such
   * product or, with `versions`, when it is at none of them. The version check sits in the UPDATE's
   * WHERE: under READ COMMITTED a concurrent writer blocks on the row lock and then re-evaluates the
   * condition against the committed row, so of several writers holding the same version exactly one
   * matches. (No read-then-write: a check before the UPDATE could pass for both.)
   */
  async update(
    id: string,
    patch: ProductUpdate,
    versions?: readonly number[],
  ): Promise<ProductDetailRow | null> {
    if (versions?.length === 0) return null; // no listed tag can ever match
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [field, column] of Object.entries(UPDATABLE) as [keyof ProductUpdate, string][]) {
      if (patch[field] === undefined) continue;
      sets.push(`${column} = ?`);
      params.push(patch[field]);
    }
    sets.push('version = p.version + 1', 'updated_at = now()');
    params.push(id, this.ctx.tenantId);
    let versionCondition = '';
    if (versions) {
      versionCondition = ' and p.version in (?)';
      params.push([...versions]);
    }
    try {
      const rows = await this.ctx.em.execute<ProductDetailRow[]>(
        `with u as (
           update products p set ${sets.join(', ')}
            where p.id = ? and p.tenant_id = ? and p.status = 'active'${versionCondition}
           returning *
         )
         select ${DETAIL_COLUMNS}, coalesce(i.available, 0) as available
           from u p left join inventory i on i.product_id = p.id`,
        params,
      );
      return rows[0] ?? null;
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        throw new ConflictException('Another product already uses this SKU.');
      }
      throw error;
    }
  }

  /** Archives an active product; false when there is none to archive. */
  async archive(id: string): Promise<boolean> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      `update products set status = 'archived', version = version + 1, updated_at = now()
        where id = ? and tenant_id = ? and status = 'active'
       returning id`,
      [id, this.ctx.tenantId],
    );
    return rows.length > 0;
  }

  /**
   * Adds one rating to an active product's summary, atomically (`x = x + ?`, no read-modify-write),
   * and locks the row until the transaction ends. False when there is no such active product.
   */
  async addRating(id: string, rating: number): Promise<boolean> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      `update products set rating_count = rating_count + 1, rating_sum = rating_sum + ?
        where id = ? and tenant_id = ? and status = 'active'
       returning id`,
      [rating, id, this.ctx.tenantId],
    );
    return rows.length > 0;
  }

  /** Whether an active product exists (for routes under /products/{id}). */
  async existsActive(id: string): Promise<boolean> {
    const rows = await this.ctx.em.execute<{ id: string }[]>(
      `select id from products where id = ? and tenant_id = ? and status = 'active'`,
      [id, this.ctx.tenantId],
    );
    return rows.length > 0;
  }
}

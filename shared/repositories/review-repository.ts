import { createdKey } from './product-repository.js';
import type { DomainContext } from '../services/context.js';
import { newId } from '../utils/ids.js';

export interface ReviewRow {
  id: string;
  rating: number;
  title: string;
  body: string;
  author_name: string;
  created_key: string;
}

export interface RecentReviewRow extends ReviewRow {
  product_id: string;
  product_name: string;
  product_price_cents: string | number;
  product_currency: string;
}

/** Keyset position in newest-first order: the last row's (created_at, id). */
export interface ReviewAfter {
  createdKey: string;
  id: string;
}

// A deleted account's name is personal data that no longer belongs on the page.
const AUTHOR = `case when u.deleted_at is null then u.name else 'Former customer' end as author_name`;
const COLUMNS = `r.id, r.rating, r.title, r.body, ${AUTHOR}, ${createdKey('r.created_at')} as created_key`;

/**
 * Reviews, tenant-scoped. Every list is ONE statement joining what each row needs (author, product), so
 * the statement count does not grow with the page size (the old platform's review→product N+1).
 */
export class ReviewRepository {
  constructor(private readonly ctx: DomainContext) {}

  /** Inserts the customer's review; null when they already reviewed this product (unique key). */
  async insert(input: {
    productId: string;
    userId: string;
    rating: number;
    title: string;
    body: string;
  }): Promise<ReviewRow | null> {
    const rows = await this.ctx.em.execute<ReviewRow[]>(
      `with r as (
         insert into reviews (id, tenant_id, product_id, user_id, rating, title, body, created_at)
         values (?, ?, ?, ?, ?, ?, ?, clock_timestamp())
         on conflict (product_id, user_id) do nothing
         returning *
       )
       select ${COLUMNS} from r join users u on u.id = r.user_id`,
      [newId(), this.ctx.tenantId, input.productId, input.userId, input.rating, input.title, input.body],
    );
    return rows[0] ?? null;
  }

  /** One page of a product's reviews, newest first, with author names. */
  async listForProduct(
    productId: string,
    after: ReviewAfter | undefined,
    limit: number,
  ): Promise<ReviewRow[]> {
    const params: unknown[] = [productId, this.ctx.tenantId];
    let resume = '';
    if (after) {
      resume = 'and (r.created_at, r.id) < (?::timestamptz, ?::uuid)';
      params.push(after.createdKey, after.id);
    }
    params.push(limit);
    return this.ctx.em.execute<ReviewRow[]>(
      `select ${COLUMNS}
         from reviews r
         join users u on u.id = r.user_id
        where r.product_id = ? and r.tenant_id = ? ${resume}
        order by r.created_at desc, r.id desc
        limit ?`,
      params,
    );
  }

  /**
   * One page of the tenant's newest reviews with each one's product summary, joined in the same
   * statement. Reviews of archived products are left out: the product is gone from the storefront.
   */
  async listRecent(after: ReviewAfter | undefined, limit: number): Promise<RecentReviewRow[]> {
    const params: unknown[] = [this.ctx.tenantId];
    let resume = '';
    if (after) {
      resume = 'and (r.created_at, r.id) < (?::timestamptz, ?::uuid)';
      params.push(after.createdKey, after.id);
    }
    params.push(limit);
    return this.ctx.em.execute<RecentReviewRow[]>(
      `select ${COLUMNS}, p.id as product_id, p.name as product_name,
              p.price_cents as product_price_cents, p.currency as product_currency
         from reviews r
         join products p on p.id = r.product_id and p.tenant_id = r.tenant_id and p.status = 'active'
         join users u on u.id = r.user_id
        where r.tenant_id = ? ${resume}
        order by r.created_at desc, r.id desc
        limit ?`,
      params,
    );
  }
}

import { ConflictException, ProductNotFoundException, UnauthorizedException } from '../../errors/index.js';
import { ProductRepository } from '../../repositories/product-repository.js';
import {
  ReviewRepository,
  type RecentReviewRow,
  type ReviewAfter,
  type ReviewRow,
} from '../../repositories/review-repository.js';
import type { PageBody } from '../../schemas/catalog.js';
import type { ReviewBody, ReviewCreateInput, ReviewWithProductBody } from '../../schemas/reviews.js';
import { z } from '../../schemas/zod.js';
import { cursorCodec, toPage, type CursorCodec } from '../../utils/cursor.js';
import { invalidateProduct } from '../catalog/catalog-cache.js';
import type { CatalogWrite } from '../catalog/product-admin-service.js';
import { isoFromKey } from '../catalog/product-mapper.js';
import { CreatedKey } from '../catalog/product-service.js';
import type { DomainContext } from '../context.js';

const ReviewCursor = z.object({ c: CreatedKey, i: z.uuid() }).strict();

function afterOf(codec: CursorCodec, cursor: string | undefined): ReviewAfter | undefined {
  const decoded = codec.decode(cursor, ReviewCursor);
  return decoded && { createdKey: decoded.c, id: decoded.i };
}

const cursorOf = (row: ReviewRow): unknown => ({ c: row.created_key, i: row.id });

function toReview(row: ReviewRow): ReviewBody {
  return {
    id: row.id,
    rating: Number(row.rating),
    title: row.title,
    body: row.body,
    author: { name: row.author_name },
    createdAt: isoFromKey(row.created_key),
  };
}

function toRecentReview(row: RecentReviewRow): ReviewWithProductBody {
  // Extended in place: spreading each mapped row costs far more than the mapping itself.
  const review = toReview(row) as ReviewWithProductBody;
  review.product = {
    id: row.product_id,
    name: row.product_name,
    priceCents: Number(row.product_price_cents),
    currency: row.product_currency.trim(),
  };
  return review;
}

export interface PageInput {
  pageSize: number;
  cursor?: string | undefined;
}

/**
 * Reviews: one per customer per product, the product's rating summary updated in the same transaction.
 * Archived products take no new reviews and their reviews are no longer listed (the product is gone
 * from the storefront); the rows and the summary stay, so un-archiving would need no repair.
 */
export class ReviewService {
  private readonly reviews: ReviewRepository;
  private readonly products: ProductRepository;

  constructor(private readonly ctx: DomainContext) {
    this.reviews = new ReviewRepository(ctx);
    this.products = new ProductRepository(ctx);
  }

  /**
   * The rating summary is bumped first: that locks the product row (so it cannot be archived under us)
   * and 404s a missing product. A repeat review then hits the unique key → 409, and the transaction
   * rolls the bump back.
   */
  async create(productId: string, input: ReviewCreateInput): Promise<CatalogWrite<ReviewBody>> {
    const userId = this.ctx.principal?.userId;
    if (!userId) throw new UnauthorizedException();
    if (!(await this.products.addRating(productId, input.rating))) throw new ProductNotFoundException();
    const row = await this.reviews.insert({ productId, userId, ...input });
    if (!row) throw new ConflictException('You have already reviewed this product.');
    const { tenantId, log } = this.ctx;
    return { result: toReview(row), afterCommit: () => invalidateProduct(tenantId, productId, log) };
  }

  /** A product's reviews, newest first; 404 when the product is not (or no longer) in the catalog. */
  async listForProduct(productId: string, page: PageInput): Promise<PageBody<ReviewBody>> {
    const codec = await cursorCodec({
      tenantId: this.ctx.tenantId,
      list: `reviews:${productId.toLowerCase()}`,
    });
    const after = afterOf(codec, page.cursor);
    if (!(await this.products.existsActive(productId))) throw new ProductNotFoundException();
    const rows = await this.reviews.listForProduct(productId, after, page.pageSize + 1);
    return toPage(rows, page.pageSize, toReview, cursorOf, codec);
  }

  /** The tenant's newest reviews, each with its product's summary, in one statement. */
  async listRecent(page: PageInput): Promise<PageBody<ReviewWithProductBody>> {
    const codec = await cursorCodec({ tenantId: this.ctx.tenantId, list: 'reviews:recent' });
    const rows = await this.reviews.listRecent(afterOf(codec, page.cursor), page.pageSize + 1);
    return toPage(rows, page.pageSize, toRecentReview, cursorOf, codec);
  }
}

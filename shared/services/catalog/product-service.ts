import type { GenerationalCache } from '../../cache/cache.js';
import { ProductNotFoundException, ValidationException } from '../../errors/index.js';
import {
  ProductRepository,
  type ProductListAfter,
  type ProductRow,
} from '../../repositories/product-repository.js';
import type { PageBody, ProductBody, ProductListInput, ProductSummaryBody } from '../../schemas/catalog.js';
import { z } from '../../schemas/zod.js';
import { cursorCodec, toPage, type CursorCodec } from '../../utils/cursor.js';
import type { DomainContext } from '../context.js';
import {
  catalogCache,
  catalogKeys,
  canonicalListPage,
  listGenerations,
  productGenerations,
} from './catalog-cache.js';
import { productVersionOf, toProduct, toProductSummary } from './product-mapper.js';

export const CreatedKey = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/, 'created key')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'created key');

const NewestCursor = z.object({ s: z.literal('newest'), c: CreatedKey, i: z.uuid() }).strict();
const PriceCursor = z
  .object({
    s: z.enum(['price_asc', 'price_desc']),
    p: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    i: z.uuid(),
  })
  .strict();

function listAfter(input: ProductListInput, codec: CursorCodec): ProductListAfter | undefined {
  if (input.sort === 'newest') {
    const cursor = codec.decode(input.cursor, NewestCursor);
    return cursor && { sort: 'newest', createdKey: cursor.c, id: cursor.i };
  }
  const cursor = codec.decode(input.cursor, PriceCursor);
  if (!cursor) return undefined;
  if (cursor.s !== input.sort) {
    throw new ValidationException([{ field: 'query.cursor', message: 'cursor is not valid for this sort' }]);
  }
  return { sort: input.sort, priceCents: cursor.p, id: cursor.i };
}

function cursorOf(sort: ProductListInput['sort'], row: ProductRow): unknown {
  return sort === 'newest'
    ? { s: 'newest', c: row.created_key, i: row.id }
    : { s: sort, p: Number(row.price_cents), i: row.id };
}

/**
 * Catalog reads for storefronts: product pages and details, through the tenant-scoped cache (a miss
 * loads PostgreSQL once, however many readers miss together; Redis down → PostgreSQL directly).
 */
export class ProductService {
  private readonly products: ProductRepository;

  constructor(
    private readonly ctx: DomainContext,
    private readonly cache: GenerationalCache = catalogCache(),
  ) {
    this.products = new ProductRepository(ctx);
  }

  /**
   * Active products, one keyset page (a single statement whatever the page size), as the JSON text of
   * the page (what the API sends): a cached page goes out as stored, like `getJson`'s product.
   */
  async listJson(input: ProductListInput): Promise<string> {
    const codec = await cursorCodec({ tenantId: this.ctx.tenantId, list: `products:${input.sort}` });
    const [key, generations, load] = this.listRead(input, codec);
    // Only canonical pages are cached (catalog-cache.ts): any other page is read from PostgreSQL, so
    // the number of list keys per tenant stays bounded whatever clients send.
    if (key === null) return JSON.stringify(await load());
    return (await this.cache.readJson(key, generations, load, this.ctx.log)).value;
  }

  /** The cache key (null: not cached), generations and loader of one page (an invalid cursor is refused here). */
  private listRead(
    input: ProductListInput,
    codec: CursorCodec,
  ): [key: string | null, generations: string[], load: () => Promise<PageBody<ProductSummaryBody>>] {
    const after = listAfter(input, codec);
    const page = canonicalListPage(input);
    return [
      page === null ? null : catalogKeys.listPage(this.ctx.tenantId, page),
      listGenerations(this.ctx.tenantId),
      async () => {
        const rows = await this.products.list({
          sort: input.sort,
          minPrice: input.minPrice,
          maxPrice: input.maxPrice,
          after,
          limit: input.pageSize + 1,
        });
        return toPage(rows, input.pageSize, toProductSummary, (row) => cursorOf(input.sort, row), codec);
      },
    ];
  }

  /** One active product with its stock and rating summary; 404 otherwise (absence is cached too). */
  async get(productId: string): Promise<ProductBody> {
    const { value } = await this.cache.read(
      catalogKeys.product(this.ctx.tenantId, productId),
      productGenerations(this.ctx.tenantId, productId),
      () => this.loadProduct(productId),
      this.ctx.log,
    );
    if (!value) throw new ProductNotFoundException();
    return value;
  }

  /**
   * `get` as the JSON text of the product (what the API sends) and its version (the ETag): a cached
   * product goes out as stored, without being parsed and serialised again on every request, and its
   * version is read off the text's first bytes (toProduct writes it first) — no extra query per hit.
   */
  async getJson(productId: string): Promise<{ json: string; version: number | undefined }> {
    const { value } = await this.cache.readJson(
      catalogKeys.product(this.ctx.tenantId, productId),
      productGenerations(this.ctx.tenantId, productId),
      () => this.loadProduct(productId),
      this.ctx.log,
    );
    if (value === 'null') throw new ProductNotFoundException();
    return { json: value, version: productVersionOf(value) };
  }

  private async loadProduct(productId: string): Promise<ProductBody | null> {
    const row = await this.products.findActive(productId);
    return row ? toProduct(row) : null;
  }
}

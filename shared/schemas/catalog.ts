import type { ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { Currency, Cursor, Money, PageSize, Problem, Uuid, pageOf } from './common.js';
import { z } from './zod.js';

/** OpenAPI response entries for the catalog routes. */
export const jsonResponse = (schema: z.ZodType, description: string): ResponseConfig => ({
  description,
  content: { 'application/json': { schema } },
});
export const problemResponse = (description: string): ResponseConfig => ({
  description,
  content: { 'application/problem+json': { schema: Problem } },
});

/**
 * PostgreSQL text cannot hold NUL; other control characters have no business in one-line fields
 * (multi-line fields keep tab, LF and CR).
 */
function hasControl(s: string, allowBreaks: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x7f || (c < 0x20 && !(allowBreaks && (c === 0x09 || c === 0x0a || c === 0x0d)))) return true;
  }
  return false;
}

export const singleLine = (max: number): z.ZodString =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !hasControl(s, false), 'must not contain control characters');

export const multiLine = (min: number, max: number): z.ZodString =>
  z
    .string()
    .trim()
    .min(min, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !hasControl(s, true), 'must not contain control characters');

export const MAX_STOCK = 1_000_000_000;

const Sku = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/, 'letters, digits and . _ / - (at most 64)')
  .openapi({ example: 'MUG-001' });

const Stock = z.number().int().min(0, 'must be 0 or more').max(MAX_STOCK, `must be at most ${MAX_STOCK}`);

export const ProductCreate = z
  .object({
    sku: Sku,
    name: singleLine(200).openapi({ example: 'Stoneware coffee mug' }),
    description: multiLine(0, 5_000).default(''),
    priceCents: Money,
    currency: Currency,
    stock: Stock.openapi({ description: 'Initial sellable quantity.' }),
  })
  .strict()
  .openapi('ProductCreate');

export const ProductPatch = z
  .object({
    sku: Sku.optional(),
    name: singleLine(200).optional(),
    description: multiLine(0, 5_000).optional(),
    priceCents: Money.optional(),
    currency: Currency.optional(),
  })
  .strict()
  .refine((patch) => Object.values(patch).some((v) => v !== undefined), {
    message: 'at least one field is required (stock is set through /inventory)',
  })
  .openapi('ProductPatch', { description: 'Any subset of the product’s fields except stock.' });

export const InventoryPut = z
  .object({ quantity: Stock.openapi({ description: 'The new sellable (available) quantity.' }) })
  .strict()
  .openapi('InventoryPut');

const NonNegativeIntString = z
  .string()
  .regex(/^\d{1,12}$/, 'must be a whole number of minor units')
  .transform(Number);

export const PRODUCT_SORTS = ['newest', 'price_asc', 'price_desc'] as const;
export type ProductSort = (typeof PRODUCT_SORTS)[number];

export const ProductListQuery = z
  .object({
    pageSize: PageSize,
    cursor: Cursor,
    sort: z.enum(PRODUCT_SORTS).default('newest'),
    minPrice: NonNegativeIntString.optional().openapi({ description: 'Lowest price, minor units.' }),
    maxPrice: NonNegativeIntString.optional().openapi({ description: 'Highest price, minor units.' }),
  })
  .refine((q) => q.minPrice === undefined || q.maxPrice === undefined || q.minPrice <= q.maxPrice, {
    message: 'minPrice must not exceed maxPrice',
    path: ['maxPrice'],
  });

export const MAX_QUERY_LENGTH = 200;

export const ProductSearchQuery = z.object({
  q: z
    .string()
    .max(MAX_QUERY_LENGTH, `q must be at most ${MAX_QUERY_LENGTH} characters`)
    .refine((s) => s.trim().length > 0, 'q must contain a search term')
    .refine((s) => !hasControl(s, false), 'q must not contain control characters')
    .openapi({
      description:
        'Web-search syntax: words (all must match), "quoted phrases", `or`, `-excluded`. Stop words are ignored.',
      example: 'ceramic mug',
    }),
  prefix: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true')
    .openapi({
      description: 'Type-ahead: also match words that start with the last word of q (`mug` → `mugs`).',
    }),
  pageSize: PageSize,
  cursor: Cursor,
});

export const ProductParams = z.object({ id: Uuid });

export const Rating = z
  .object({
    average: z.number().nullable().openapi({ description: 'Mean of the ratings, 2 decimals; null if none.' }),
    count: z.number().int(),
  })
  .openapi('Rating');

export const ProductSummary = z
  .object({
    id: Uuid,
    sku: z.string(),
    name: z.string(),
    description: z.string(),
    priceCents: Money,
    currency: Currency,
    rating: Rating,
    createdAt: z.iso.datetime(),
  })
  .openapi('ProductSummary', { description: 'A product as lists show it (no stock: see the detail).' });

export const Product = ProductSummary.extend({
  available: z.number().int().openapi({ description: 'Sellable quantity right now.' }),
  version: z
    .number()
    .int()
    .min(1)
    .openapi({
      description:
        'Bumped by every change to the product’s own fields (an update or archive); the `ETag` header is ' +
        '`"v<version>"`. Stock and rating move without changing it.',
    }),
}).openapi('Product');

const PRODUCT_ETAG_EXAMPLE = '"v3"';

/** The ETag response header of a product (the detail, create and update answers). */
export const productEtagHeader = {
  ETag: {
    schema: { type: 'string' as const, example: PRODUCT_ETAG_EXAMPLE },
    description:
      'The product’s version (`"v<version>"`): send it as `If-Match` to PATCH /manage/products/{id} so ' +
      'an edit made meanwhile is not overwritten.',
  },
};

export const ProductWriteHeaders = z.object({
  'If-Match': z
    .string()
    .optional()
    .openapi({
      description:
        'Apply the update only if the product is still at this version (the `ETag` of your read), or ' +
        '`*` (any version). A stale ETag → 412 and nothing changes; a malformed header → 400. Without ' +
        'it, the update applies to whatever version is current.',
      example: PRODUCT_ETAG_EXAMPLE,
    }),
});

export const SearchHit = ProductSummary.extend({
  rank: z.number().openapi({ description: 'Relevance (ts_rank; higher is better).' }),
}).openapi('SearchHit');

export const ProductPage = pageOf(ProductSummary, 'ProductPage');
export const SearchPage = pageOf(SearchHit, 'SearchPage');

export const Inventory = z
  .object({
    productId: Uuid,
    available: z.number().int(),
    reserved: z.number().int(),
    sold: z.number().int(),
  })
  .openapi('Inventory');

export type ProductCreateInput = z.infer<typeof ProductCreate>;
export type ProductPatchInput = z.infer<typeof ProductPatch>;
export type ProductListInput = z.infer<typeof ProductListQuery>;
export type ProductSearchInput = z.infer<typeof ProductSearchQuery>;
export type ProductSummaryBody = z.infer<typeof ProductSummary>;
export type ProductBody = z.infer<typeof Product>;
export type SearchHitBody = z.infer<typeof SearchHit>;
export type InventoryBody = z.infer<typeof Inventory>;
export interface PageBody<T> {
  items: T[];
  nextCursor: string | null;
}

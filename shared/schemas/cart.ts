import { Currency, Problem, Uuid } from './common.js';
import { z } from './zod.js';

export const MAX_LINE_QUANTITY = 99;

export const CartProductParams = z.object({ productId: Uuid });

export const SetCartQuantity = z
  .object({
    quantity: z
      .number()
      .int()
      .min(0, 'quantity must be between 0 and 99')
      .max(MAX_LINE_QUANTITY, `quantity must be between 0 and ${MAX_LINE_QUANTITY}`)
      .openapi({ description: 'The line’s new quantity, 1–99; 0 removes the line.', example: 2 }),
  })
  .strict()
  .openapi('SetCartQuantity');

/** Totals are sums of exact safe integers; a sum that would not be exact is refused, never rounded. */
const MinorUnits = z.number().int().min(0).openapi({ description: 'Integer minor units.' });

export const CartLine = z
  .object({
    productId: Uuid,
    name: z.string(),
    quantity: z.number().int().min(1).max(MAX_LINE_QUANTITY),
    unitPriceCents: MinorUnits.openapi({ description: 'The product’s current price, integer minor units.' }),
    lineTotalCents: MinorUnits.openapi({ description: 'unitPriceCents × quantity.' }),
  })
  .openapi('CartLine');

export const Cart = z
  .object({
    lines: z.array(CartLine),
    totalCents: MinorUnits.openapi({ description: 'Sum of the line totals.' }),
    currency: Currency.nullable().openapi({
      description: 'The one currency of every line; null while empty.',
    }),
    version: z.number().int().min(0).openapi({
      description: 'Bumped by every change; the `ETag` header is `"v<version>"`. 0 = never written.',
    }),
  })
  .openapi('Cart', {
    description:
      'The caller’s cart at current prices. Lines whose product was archived are not shown (they cannot be bought).',
  });

export type CartBody = z.infer<typeof Cart>;
export type CartLineBody = z.infer<typeof CartLine>;

const ETAG_EXAMPLE = '"v7"';

export const CartWriteHeaders = z.object({
  'If-Match': z
    .string()
    .optional()
    .openapi({
      description:
        'Apply the change only if the cart is still at this version (the `ETag` of the last read). ' +
        'A stale ETag → 412 and nothing changes. Without it, each line’s last write wins.',
      example: ETAG_EXAMPLE,
    }),
});

export const CartReadHeaders = z.object({
  'If-None-Match': z
    .string()
    .optional()
    .openapi({ description: '304 when the cart is still at this version.', example: ETAG_EXAMPLE }),
});

const etagHeader = {
  ETag: { schema: { type: 'string' as const, example: ETAG_EXAMPLE }, description: 'The cart’s version.' },
};

function problem(description: string): {
  description: string;
  content: Record<string, { schema: typeof Problem }>;
} {
  return { description, content: { 'application/problem+json': { schema: Problem } } };
}

export const cartOk = {
  description: 'The cart after the request',
  headers: etagHeader,
  content: { 'application/json': { schema: Cart } },
};

export const cartNotModified = {
  description: 'The cart is still at the If-None-Match version',
  headers: etagHeader,
};

export const cartPreconditionFailed = problem(
  'If-Match names a version the cart is no longer at; nothing changed.',
);

export const cartConflict = problem(
  'The product is in another currency than the cart (`type` …/currency-mismatch), or more than the ' +
    'available stock was asked for (`type` …/insufficient-inventory, with `productId` and `available`).',
);

export const cartProductNotFound = problem('No such product in this tenant, or it is archived.');

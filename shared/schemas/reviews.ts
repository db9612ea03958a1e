import { multiLine, singleLine } from './catalog.js';
import { Currency, Cursor, Money, PageSize, Uuid, pageOf } from './common.js';
import { z } from './zod.js';

export const ReviewCreate = z
  .object({
    rating: z.number().int().min(1, 'rating must be 1–5').max(5, 'rating must be 1–5'),
    title: singleLine(200).openapi({ example: 'Keeps coffee warm' }),
    body: multiLine(1, 5_000).openapi({ example: 'Solid mug, nice glaze, survives the dishwasher.' }),
  })
  .strict()
  .openapi('ReviewCreate');

export const ReviewPageQuery = z.object({ pageSize: PageSize, cursor: Cursor });

export const Review = z
  .object({
    id: Uuid,
    rating: z.number().int().min(1).max(5),
    title: z.string(),
    body: z.string(),
    author: z.object({ name: z.string().openapi({ description: 'The reviewer’s display name.' }) }),
    createdAt: z.iso.datetime(),
  })
  .openapi('Review');

export const ReviewWithProduct = Review.extend({
  product: z.object({ id: Uuid, name: z.string(), priceCents: Money, currency: Currency }),
}).openapi('ReviewWithProduct');

export const ReviewPage = pageOf(Review, 'ReviewPage');
export const RecentReviewPage = pageOf(ReviewWithProduct, 'RecentReviewPage');

export type ReviewCreateInput = z.infer<typeof ReviewCreate>;
export type ReviewBody = z.infer<typeof Review>;
export type ReviewWithProductBody = z.infer<typeof ReviewWithProduct>;

import './lib/telemetry-start.js';
import { ProductParams, jsonResponse, problemResponse } from '../shared/schemas/catalog.js';
import {
  RecentReviewPage,
  Review,
  ReviewCreate,
  ReviewPage,
  ReviewPageQuery,
} from '../shared/schemas/reviews.js';
import { ReviewService } from '../shared/services/reviews/review-service.js';
import { REVIEW_RATE_LIMIT } from '../shared/services/rate-limit/limits.js';
import { defineRoute } from './lib/route.js';

export const listProductReviews = defineRoute({
  name: 'listProductReviews',
  method: 'GET',
  route: 'products/{id}/reviews',
  access: 'tenant',
  tags: ['reviews'],
  summary: 'A product’s reviews, newest first, with author names',
  params: ProductParams,
  query: ReviewPageQuery,
  responses: {
    200: jsonResponse(ReviewPage, 'A page of reviews'),
    404: problemResponse('No such active product in this tenant'),
  },
  handler: async ({ params, query, domain }) => ({
    body: await new ReviewService(domain).listForProduct(params.id, query),
  }),
});

export const createReview = defineRoute({
  name: 'createReview',
  method: 'POST',
  route: 'products/{id}/reviews',
  access: 'customer',
  tags: ['reviews'],
  summary: 'Review a product (once per customer)',
  description:
    'Rating 1–5, title and body. The product’s rating summary changes in the same transaction and its ' +
    'cached detail and list pages are invalidated as soon as it commits.',
  params: ProductParams,
  body: ReviewCreate,
  rateLimit: REVIEW_RATE_LIMIT,
  responses: {
    201: jsonResponse(Review, 'Created'),
    404: problemResponse('No such active product in this tenant'),
    409: problemResponse('The caller already reviewed this product'),
    429: problemResponse('Too many reviews from this account; see Retry-After'),
  },
  handler: async ({ params, body, domain }) => {
    const { result, afterCommit } = await new ReviewService(domain).create(params.id, body);
    return { status: 201, body: result, afterCommit };
  },
});

export const listRecentReviews = defineRoute({
  name: 'listRecentReviews',
  method: 'GET',
  route: 'reviews',
  access: 'tenant',
  tags: ['reviews'],
  summary: 'Newest reviews across the catalog, each with its product',
  description: 'One statement per page whatever its size. Reviews of archived products are not listed.',
  query: ReviewPageQuery,
  responses: { 200: jsonResponse(RecentReviewPage, 'A page of reviews') },
  handler: async ({ query, domain }) => ({ body: await new ReviewService(domain).listRecent(query) }),
});

import './lib/telemetry-start.js';
import {
  Product,
  ProductListQuery,
  ProductPage,
  ProductParams,
  ProductSearchQuery,
  SearchPage,
  jsonResponse as json,
  problemResponse,
  productEtagHeader,
} from '../shared/schemas/catalog.js';
import { ProductService } from '../shared/services/catalog/product-service.js';
import { SearchService } from '../shared/services/catalog/search-service.js';
import { formatEtag } from '../shared/utils/etag.js';
import { defineRoute } from './lib/route.js';

export const listProducts = defineRoute({
  name: 'listProducts',
  method: 'GET',
  route: 'products',
  access: 'tenant',
  tags: ['products'],
  summary: 'Active products, one keyset page',
  description:
    'Sorted newest first (default) or by price; `minPrice`/`maxPrice` in minor units. Pages are cached ' +
    'for up to 5 minutes and invalidated by every catalog write. List items carry no stock (see the detail).',
  query: ProductListQuery,
  responses: { 200: json(ProductPage, 'A page of products') },
  // Like the detail: a cached page is sent as stored.
  handler: async ({ query, domain }) => ({ json: await new ProductService(domain).listJson(query) }),
});

export const searchProducts = defineRoute({
  name: 'searchProducts',
  method: 'GET',
  route: 'products/search',
  access: 'tenant',
  tags: ['products'],
  summary: 'Full-text search, ranked',
  description:
    'Web-search syntax over names (weighted highest) and descriptions. Hits are ranked by relevance ' +
    'within windows of the 200 newest matches (all matches when there are at most 200), window after ' +
    'window; the cursor pins the window, so pages are stable while products are added. `prefix=true` ' +
    'also matches words starting with the last word (type-ahead). A query of stop words only gives an ' +
    'empty page.',
  query: ProductSearchQuery,
  responses: { 200: json(SearchPage, 'A page of hits, best first') },
  handler: async ({ query, domain }) => ({ body: await new SearchService(domain).search(query) }),
});

export const getProduct = defineRoute({
  name: 'getProduct',
  method: 'GET',
  route: 'products/{id}',
  access: 'tenant',
  tags: ['products'],
  summary: 'One product with its stock and rating summary',
  description:
    'Cached for up to 5 minutes; any change to the product, its stock or its rating shows at once. The ' +
    '`ETag` is the version of the product’s own fields, for `If-Match` on PATCH /manage/products/{id}; ' +
    'stock and rating change without it, so it is not offered for `If-None-Match` revalidation.',
  params: ProductParams,
  responses: {
    200: { ...json(Product, 'The product'), headers: productEtagHeader },
    404: problemResponse('No such active product in this tenant'),
  },
  // The cached JSON text is the response body as it is (no parse and re-serialise per request); its
  // version comes off the text's first bytes.
  handler: async ({ params, domain }) => {
    const { json: text, version } = await new ProductService(domain).getJson(params.id);
    return { json: text, ...(version === undefined ? {} : { headers: { etag: formatEtag(version) } }) };
  },
});

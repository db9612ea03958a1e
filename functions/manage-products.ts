import './lib/telemetry-start.js';
import {
  Inventory,
  InventoryPut,
  Product,
  ProductCreate,
  ProductParams,
  ProductPatch,
  ProductWriteHeaders,
  jsonResponse,
  problemResponse,
  productEtagHeader,
  type ProductBody,
} from '../shared/schemas/catalog.js';
import { InventoryLedger, StockAdjustment, StockAdjustmentRequest } from '../shared/schemas/inventory.js';
import { ProductAdminService } from '../shared/services/catalog/product-admin-service.js';
import { StockLedgerService } from '../shared/services/inventory/stock-ledger-service.js';
import { formatEtag, parseIfMatch } from '../shared/utils/etag.js';
import { defineRoute } from './lib/route.js';

const notFound = problemResponse('No such active product in this tenant');

/** A product answer: the body and its version as the ETag. */
const withEtag = (description: string): ReturnType<typeof jsonResponse> => ({
  ...jsonResponse(Product, description),
  headers: productEtagHeader,
});

const etagOf = (product: ProductBody): Record<string, string> => ({ etag: formatEtag(product.version) });

export const createProduct = defineRoute({
  name: 'adminCreateProduct',
  method: 'POST',
  route: 'manage/products',
  access: 'admin',
  tags: ['admin'],
  summary: 'Create a product with its initial stock',
  body: ProductCreate,
  responses: {
    201: withEtag('Created (Location: the product)'),
    409: problemResponse('The SKU is already used in this tenant'),
  },
  handler: async ({ body, domain }) => {
    const { result, afterCommit } = await new ProductAdminService(domain).create(body);
    return {
      status: 201,
      body: result,
      headers: { location: `/api/products/${result.id}`, ...etagOf(result) },
      afterCommit,
    };
  },
});

export const updateProduct = defineRoute({
  name: 'adminUpdateProduct',
  method: 'PATCH',
  route: 'manage/products/{id}',
  access: 'admin',
  tags: ['admin'],
  summary: 'Update a product (any fields but stock)',
  description:
    'Send `If-Match` with the `ETag` of your read (GET /products/{id}) so that an edit someone made ' +
    'meanwhile is not overwritten: the update applies only if the product is still at that version, ' +
    'checked and applied in one statement (of two concurrent updates with the same ETag exactly one ' +
    'wins). Every update bumps the version; the answer carries the new `ETag`.',
  params: ProductParams,
  body: ProductPatch,
  headers: ProductWriteHeaders,
  responses: {
    200: withEtag('The updated product'),
    404: notFound,
    409: problemResponse('The new SKU is already used in this tenant'),
    412: problemResponse(
      'The product changed since the If-Match version was read (`type` …/precondition-failed); nothing changed.',
    ),
  },
  handler: async ({ params, body, domain, request }) => {
    // Parsed before any write: a malformed header is a 400 and changes nothing.
    const condition = parseIfMatch(request.headers.get('if-match'));
    const { result, afterCommit } = await new ProductAdminService(domain).update(params.id, body, condition);
    return { body: result, headers: etagOf(result), afterCommit };
  },
});

export const archiveProduct = defineRoute({
  name: 'adminArchiveProduct',
  method: 'DELETE',
  route: 'manage/products/{id}',
  access: 'admin',
  tags: ['admin'],
  summary: 'Archive a product',
  description: 'It disappears from lists, search and detail (404) at once; orders keep their lines.',
  params: ProductParams,
  responses: { 204: { description: 'Archived' }, 404: notFound },
  handler: async ({ params, domain }) => {
    const { afterCommit } = await new ProductAdminService(domain).archive(params.id);
    return { status: 204, afterCommit };
  },
});

export const setProductInventory = defineRoute({
  name: 'adminSetInventory',
  method: 'PUT',
  route: 'manage/products/{id}/inventory',
  access: 'admin',
  tags: ['admin'],
  summary: 'Set the sellable quantity',
  description:
    '`quantity` becomes `available` (what can be sold now); reserved and sold units are untouched.',
  params: ProductParams,
  body: InventoryPut,
  responses: { 200: jsonResponse(Inventory, 'The product’s stock'), 404: notFound },
  handler: async ({ params, body, domain }) => {
    const { result, afterCommit } = await new ProductAdminService(domain).setInventory(
      params.id,
      body.quantity,
    );
    return { body: result, afterCommit };
  },
});

export const getProductInventory = defineRoute({
  name: 'adminGetInventory',
  method: 'GET',
  route: 'manage/products/{id}/inventory',
  access: 'admin',
  tags: ['admin'],
  summary: 'Stock levels and the newest movements',
  params: ProductParams,
  responses: {
    200: jsonResponse(InventoryLedger, 'On-hand, reserved, available and the ledger'),
    404: notFound,
  },
  handler: async ({ params, domain }) => ({
    body: await new StockLedgerService(domain).view(params.id),
    headers: { 'cache-control': 'no-store' },
  }),
});

export const adjustProductInventory = defineRoute({
  name: 'adminAdjustInventory',
  method: 'POST',
  route: 'manage/products/{id}/inventory/adjustments',
  access: 'admin',
  tags: ['admin'],
  summary: 'Adjust on-hand stock by a delta, with a reason',
  description:
    'Adds `delta` to on-hand (negative removes). On-hand never drops below what is reserved for orders ' +
    'in checkout: such an adjustment is a 409 and changes nothing.',
  params: ProductParams,
  body: StockAdjustmentRequest,
  responses: {
    201: jsonResponse(StockAdjustment, 'Recorded'),
    404: notFound,
    409: problemResponse('On-hand would drop below reserved'),
  },
  handler: async ({ params, body, domain }) => {
    const { result, afterCommit } = await new StockLedgerService(domain).adjust(
      params.id,
      body.delta,
      body.reason,
    );
    return {
      status: 201,
      body: result,
      headers: { location: `/api/manage/products/${params.id}/inventory` },
      afterCommit,
    };
  },
});

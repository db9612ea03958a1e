import { randomUUID } from 'node:crypto';
import {
  archiveProduct,
  createProduct as adminCreate,
  setProductInventory,
  updateProduct,
} from '../../../functions/manage-products.js';
import { getProduct, listProducts, searchProducts } from '../../../functions/products.js';
import { createReview, listProductReviews, listRecentReviews } from '../../../functions/reviews.js';
import { createTenant, testPool } from '../../fixtures/sample_data.js';
import { authHeaders, createUser, type TestUser } from '../../fixtures/users.js';
import { invoke, type InvokeResult } from '../../support/http.js';

export type Headers = Record<string, string>;

export interface Shop {
  tenantId: string;
  admin: TestUser;
  adminHeaders: Headers;
  anonymous: Headers;
}

/** A fresh tenant with an admin (X-Admin-Token + admin role) and anonymous storefront headers. */
export async function createShop(name = 'Catalog shop'): Promise<Shop> {
  const tenant = await createTenant(name);
  const admin = await createUser(tenant.id, { roles: ['admin'], name: 'Shop Admin' });
  return {
    tenantId: tenant.id,
    admin,
    adminHeaders: await authHeaders(admin),
    anonymous: { 'x-tenant-id': tenant.id },
  };
}

export async function customer(
  shop: Shop,
  name = 'Casey Customer',
): Promise<{ user: TestUser; headers: Headers }> {
  const user = await createUser(shop.tenantId, { name });
  return { user, headers: await authHeaders(user) };
}

export interface NewProduct {
  sku?: string;
  name?: string;
  description?: string;
  priceCents?: number;
  currency?: string;
  stock?: number;
}

export function create(shop: Shop, input: NewProduct, headers = shop.adminHeaders): Promise<InvokeResult> {
  return invoke(adminCreate, {
    method: 'POST',
    url: 'http://localhost/api/manage/products',
    headers,
    body: {
      sku: input.sku ?? `SKU-${randomUUID().slice(0, 8)}`,
      name: input.name ?? 'Plain product',
      description: input.description ?? '',
      priceCents: input.priceCents ?? 1000,
      currency: input.currency ?? 'USD',
      stock: input.stock ?? 10,
    },
  });
}

/** Creates through the admin route and returns the product body (asserting 201). */
export async function created(shop: Shop, input: NewProduct = {}): Promise<{ id: string; [k: string]: any }> {
  const res = await create(shop, input);
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
  return res.json;
}

export function patch(
  shop: Shop,
  id: string,
  body: unknown,
  headers = shop.adminHeaders,
): Promise<InvokeResult> {
  return invoke(updateProduct, {
    method: 'PATCH',
    url: `http://localhost/api/manage/products/${id}`,
    params: { id },
    headers,
    body,
  });
}

export function archive(shop: Shop, id: string, headers = shop.adminHeaders): Promise<InvokeResult> {
  return invoke(archiveProduct, {
    method: 'DELETE',
    url: `http://localhost/api/manage/products/${id}`,
    params: { id },
    headers,
  });
}

export function setStock(
  shop: Shop,
  id: string,
  body: unknown,
  headers = shop.adminHeaders,
): Promise<InvokeResult> {
  return invoke(setProductInventory, {
    method: 'PUT',
    url: `http://localhost/api/manage/products/${id}/inventory`,
    params: { id },
    headers,
    body,
  });
}

export function detail(headers: Headers, id: string): Promise<InvokeResult> {
  return invoke(getProduct, { url: `http://localhost/api/products/${id}`, params: { id }, headers });
}

export function list(headers: Headers, query: Record<string, string> = {}): Promise<InvokeResult> {
  return invoke(listProducts, { url: 'http://localhost/api/products', query, headers });
}

export function search(headers: Headers, query: Record<string, string>): Promise<InvokeResult> {
  return invoke(searchProducts, { url: 'http://localhost/api/products/search', query, headers });
}

export function review(headers: Headers, id: string, body: unknown): Promise<InvokeResult> {
  return invoke(createReview, {
    method: 'POST',
    url: `http://localhost/api/products/${id}/reviews`,
    params: { id },
    headers,
    body,
  });
}

export function productReviews(
  headers: Headers,
  id: string,
  query: Record<string, string> = {},
): Promise<InvokeResult> {
  return invoke(listProductReviews, {
    url: `http://localhost/api/products/${id}/reviews`,
    params: { id },
    query,
    headers,
  });
}

export function recentReviews(headers: Headers, query: Record<string, string> = {}): Promise<InvokeResult> {
  return invoke(listRecentReviews, { url: 'http://localhost/api/reviews', query, headers });
}

/** Follows nextCursor to the end; returns every page's items. */
export async function walk(
  fetchPage: (query: Record<string, string>) => Promise<InvokeResult>,
  query: Record<string, string>,
  between?: (page: number) => Promise<void>,
): Promise<any[][]> {
  const pages: any[][] = [];
  let cursor: string | null = null;
  do {
    const res = await fetchPage(cursor ? { ...query, cursor } : query);
    if (res.status !== 200) throw new Error(`page failed: ${res.status} ${res.text}`);
    pages.push(res.json.items);
    cursor = res.json.nextCursor;
    if (between) await between(pages.length);
  } while (cursor && pages.length < 1_000);
  return pages;
}

/** Bulk rows straight into the database (fast fixtures for pagination and search). */
export async function insertProducts(
  tenantId: string,
  rows: { name: string; description?: string; priceCents?: number; createdAt?: Date }[],
): Promise<string[]> {
  const ids = rows.map(() => randomUUID());
  await testPool().query(
    `insert into products (id, tenant_id, sku, name, description, price_cents, currency, created_at)
     select id, $1, 'BULK-' || id, name, description, price, 'USD', created
       from unnest($2::uuid[], $3::text[], $4::text[], $5::int8[], $6::timestamptz[])
         as t(id, name, description, price, created)`,
    [
      tenantId,
      ids,
      rows.map((r) => r.name),
      rows.map((r) => r.description ?? ''),
      rows.map((r) => r.priceCents ?? 1000),
      rows.map((r) => r.createdAt ?? new Date()),
    ],
  );
  await testPool().query(
    `insert into inventory (product_id, tenant_id, available) select unnest($2::uuid[]), $1, 5`,
    [tenantId, ids],
  );
  return ids;
}

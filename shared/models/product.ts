import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import { bigintNumber, timestamps } from './common.js';

export type ProductStatus = 'active' | 'archived';

/** The `search` tsvector is a generated column maintained by PostgreSQL and deliberately not mapped. */
export class Product {
  [OptionalProps]?:
    'description' | 'status' | 'ratingCount' | 'ratingSum' | 'version' | 'createdAt' | 'updatedAt';
  id!: string;
  tenantId!: string;
  sku!: string;
  name!: string;
  description = '';
  priceCents!: number;
  currency!: string;
  status: ProductStatus = 'active';
  ratingCount = 0;
  ratingSum = 0;
  /** Bumped by every admin update or archive (the ETag); stock and ratings leave it alone. */
  version = 1;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const ProductSchema = new EntitySchema<Product>({
  class: Product,
  tableName: 'products',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    sku: { type: 'text' },
    name: { type: 'text' },
    description: { type: 'text' },
    priceCents: { type: bigintNumber() },
    currency: { type: 'character', length: 3 },
    status: { type: 'text' },
    ratingCount: { type: 'integer' },
    ratingSum: { type: 'integer' },
    version: { type: 'integer' },
    ...timestamps,
  },
});

/** Stock: available + reserved + sold is conserved by reservations, commits and releases. */
export class Inventory {
  [OptionalProps]?: 'reserved' | 'sold' | 'createdAt' | 'updatedAt';
  productId!: string;
  tenantId!: string;
  available!: number;
  reserved = 0;
  sold = 0;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const InventorySchema = new EntitySchema<Inventory>({
  class: Inventory,
  tableName: 'inventory',
  properties: {
    productId: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    available: { type: 'integer' },
    reserved: { type: 'integer' },
    sold: { type: 'integer' },
    ...timestamps,
  },
});

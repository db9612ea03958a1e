import { Collection, EntitySchema, OptionalProps } from '@mikro-orm/core';
import { timestamps } from './common.js';

export class Cart {
  [OptionalProps]?: 'version' | 'createdAt' | 'updatedAt';
  id!: string;
  tenantId!: string;
  userId!: string;
  /** Bumped on every change; exposed as the ETag. */
  version = 0;
  lines = new Collection<CartLine>(this);
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export class CartLine {
  [OptionalProps]?: 'createdAt' | 'updatedAt';
  id!: string;
  tenantId!: string;
  cart!: Cart;
  productId!: string;
  quantity!: number;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const CartSchema = new EntitySchema<Cart>({
  class: Cart,
  tableName: 'carts',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    userId: { type: 'uuid' },
    version: { type: 'integer' },
    lines: { kind: '1:m', entity: () => CartLine, mappedBy: 'cart', orderBy: { createdAt: 'asc' } },
    ...timestamps,
  },
});

export const CartLineSchema = new EntitySchema<CartLine>({
  class: CartLine,
  tableName: 'cart_lines',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    cart: { kind: 'm:1', entity: () => Cart },
    productId: { type: 'uuid' },
    quantity: { type: 'integer' },
    ...timestamps,
  },
});

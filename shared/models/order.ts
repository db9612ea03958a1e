import { Collection, EntitySchema, OptionalProps } from '@mikro-orm/core';
import { bigintNumber, timestamps } from './common.js';

export const ORDER_STATUSES = [
  'pending',
  'reserved',
  'awaiting_payment',
  'requires_action',
  'paid',
  'confirmed',
  'shipped',
  'refunded',
  'failed',
  'cancelled',
  'expired',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export class Order {
  [OptionalProps]?: 'status' | 'failureReason' | 'shippingAddressEnc' | 'createdAt' | 'updatedAt';
  id!: string;
  tenantId!: string;
  userId!: string;
  status: OrderStatus = 'pending';
  totalCents!: number;
  currency!: string;
  idempotencyKey!: string;
  requestHash!: string;
  paymentMethodId!: string;
  failureReason: string | null = null;
  /** The shipping address as one Fernet token (PII). */
  shippingAddressEnc: string | null = null;
  lines = new Collection<OrderLine>(this);
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

/** Name and prices are snapshotted at checkout: later catalog edits do not rewrite history. */
export class OrderLine {
  [OptionalProps]?: 'createdAt';
  id!: string;
  tenantId!: string;
  order!: Order;
  productId!: string;
  name!: string;
  quantity!: number;
  unitPriceCents!: number;
  lineTotalCents!: number;
  createdAt: Date = new Date();
}

export const OrderSchema = new EntitySchema<Order>({
  class: Order,
  tableName: 'orders',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    userId: { type: 'uuid' },
    status: { type: 'text' },
    totalCents: { type: bigintNumber() },
    currency: { type: 'character', length: 3 },
    idempotencyKey: { type: 'text' },
    requestHash: { type: 'text' },
    paymentMethodId: { type: 'text' },
    failureReason: { type: 'text', nullable: true },
    shippingAddressEnc: { type: 'text', nullable: true, hidden: true },
    lines: { kind: '1:m', entity: () => OrderLine, mappedBy: 'order', orderBy: { productId: 'asc' } },
    ...timestamps,
  },
});

export const OrderLineSchema = new EntitySchema<OrderLine>({
  class: OrderLine,
  tableName: 'order_lines',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    order: { kind: 'm:1', entity: () => Order },
    productId: { type: 'uuid' },
    name: { type: 'text' },
    quantity: { type: 'integer' },
    unitPriceCents: { type: bigintNumber() },
    lineTotalCents: { type: bigintNumber() },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});

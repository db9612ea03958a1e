import { EntitySchema, OptionalProps, PrimaryKeyProp } from '@mikro-orm/core';
import { timestamps } from './common.js';

export type ReservationStatus = 'active' | 'committed' | 'released';

/** One order's hold on one product: keyed by (orderId, productId), an order holds a product at most once. */
export class Reservation {
  [PrimaryKeyProp]?: ['orderId', 'productId'];
  [OptionalProps]?: 'status' | 'createdAt' | 'updatedAt';
  orderId!: string;
  productId!: string;
  tenantId!: string;
  quantity!: number;
  status: ReservationStatus = 'active';
  expiresAt!: Date;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const ReservationSchema = new EntitySchema<Reservation>({
  class: Reservation,
  tableName: 'reservations',
  properties: {
    orderId: { type: 'uuid', primary: true },
    productId: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    quantity: { type: 'integer' },
    status: { type: 'text' },
    expiresAt: { type: 'Date', columnType: 'timestamptz' },
    ...timestamps,
  },
});

import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import { timestamps } from './common.js';

export type ReservationStatus = 'active' | 'committed' | 'released';

export class Reservation {
  [OptionalProps]?: 'status' | 'createdAt' | 'updatedAt';
  id!: string;
  tenantId!: string;
  orderId!: string;
  productId!: string;
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
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    orderId: { type: 'uuid' },
    productId: { type: 'uuid' },
    quantity: { type: 'integer' },
    status: { type: 'text' },
    expiresAt: { type: 'Date', columnType: 'timestamptz' },
    ...timestamps,
  },
});

import { EntitySchema, OptionalProps } from '@mikro-orm/core';

export class Review {
  [OptionalProps]?: 'createdAt';
  id!: string;
  tenantId!: string;
  productId!: string;
  userId!: string;
  rating!: number;
  title!: string;
  body!: string;
  createdAt: Date = new Date();
}

export const ReviewSchema = new EntitySchema<Review>({
  class: Review,
  tableName: 'reviews',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    productId: { type: 'uuid' },
    userId: { type: 'uuid' },
    rating: { type: 'smallint' },
    title: { type: 'text' },
    body: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});

import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import { bigintNumber, timestamps } from './common.js';

/** Stripe PaymentIntent statuses we track, plus our own `pending` before the intent exists. */
export type PaymentStatus =
  | 'pending'
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'succeeded'
  | 'canceled'
  | 'failed'
  | 'refunded';

/** Never card data: Stripe ids, status and amounts only. */
export class Payment {
  [OptionalProps]?:
    'provider' | 'paymentIntentId' | 'status' | 'clientSecret' | 'lastError' | 'createdAt' | 'updatedAt';
  id!: string;
  tenantId!: string;
  orderId!: string;
  provider = 'stripe';
  paymentIntentId: string | null = null;
  status: PaymentStatus = 'pending';
  amountCents!: number;
  currency!: string;
  clientSecret: string | null = null;
  lastError: string | null = null;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const PaymentSchema = new EntitySchema<Payment>({
  class: Payment,
  tableName: 'payments',
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    orderId: { type: 'uuid' },
    provider: { type: 'text' },
    paymentIntentId: { type: 'text', nullable: true },
    status: { type: 'text' },
    amountCents: { type: bigintNumber() },
    currency: { type: 'character', length: 3 },
    clientSecret: { type: 'text', nullable: true, hidden: true },
    lastError: { type: 'text', nullable: true },
    ...timestamps,
  },
});

/** A Stripe event id seen once; the primary key makes a repeated delivery a no-op. */
export class StripeEvent {
  [OptionalProps]?: 'tenantId' | 'paymentIntentId' | 'createdAt';
  id!: string;
  tenantId: string | null = null;
  type!: string;
  paymentIntentId: string | null = null;
  createdAt: Date = new Date();
}

export const StripeEventSchema = new EntitySchema<StripeEvent>({
  class: StripeEvent,
  tableName: 'stripe_events',
  properties: {
    id: { type: 'text', primary: true },
    tenantId: { type: 'uuid', nullable: true },
    type: { type: 'text' },
    paymentIntentId: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});

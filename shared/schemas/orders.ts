import { ORDER_STATUSES } from '../models/order.js';
import { ShippingAddress } from './address.js';
import { Currency, Money, PageQuery, Uuid, pageOf } from './common.js';
import { z } from './zod.js';

export const OrderLineBody = z
  .object({
    productId: Uuid,
    name: z.string(),
    quantity: z.number().int().min(1),
    unitPriceCents: Money,
    lineTotalCents: Money,
  })
  .openapi('OrderLine');

export const PAYMENT_STATUSES = [
  'pending',
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
  'processing',
  'succeeded',
  'canceled',
  'failed',
  'refunded',
] as const;

export const OrderPayment = z
  .object({
    status: z.enum(PAYMENT_STATUSES),
    paymentIntentId: z.string().nullable(),
    refundedCents: Money.openapi({ description: 'Refunded or being refunded, in minor units.' }),
    disputed: z.boolean().openapi({ description: 'The cardholder opened a dispute (chargeback).' }),
  })
  .openapi('OrderPayment');

export const Fulfilment = z
  .object({
    carrier: z.string(),
    trackingNumber: z.string(),
    shippedAt: z.iso.datetime(),
  })
  .openapi('Fulfilment');

export const OrderBody = z
  .object({
    id: Uuid,
    status: z.enum(ORDER_STATUSES),
    lines: z.array(OrderLineBody),
    totalCents: Money,
    currency: Currency,
    payment: OrderPayment,
    // A union, not `.nullable()`: on a registered schema that becomes `allOf: [$ref, {type: null}]`,
    // which no null satisfies.
    shippingAddress: z.union([ShippingAddress, z.null()]).openapi({
      description: 'Where the order ships; null only for orders placed before addresses were taken.',
    }),
    /** Present once the order has shipped. */
    fulfilment: Fulfilment.optional(),
    clientSecret: z.string().optional().openapi({
      description: 'Present only while the order is `requires_action`: hand it to Stripe.js to authenticate.',
    }),
    failureReason: z
      .string()
      .optional()
      .openapi({
        description:
          'Why the order failed or expired: insufficient_inventory, payment_declined, payment_failed, ' +
          'payment_canceled, payment_timeout, payment_error, reservation_expired, internal_error.',
      }),
    createdAt: z.iso.datetime(),
  })
  .openapi('Order');

export type OrderBodyType = z.infer<typeof OrderBody>;

export const OrderPage = pageOf(OrderBody, 'OrderPage');

export const OrderListQuery = PageQuery.strict();

/** The keyset position in a user's history: created_at (microseconds, UTC) then id, both descending. */
export const OrderCursor = z.object({
  c: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
  i: Uuid,
});
export type OrderCursorValue = z.infer<typeof OrderCursor>;

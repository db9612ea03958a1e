import { ORDER_STATUSES } from '../models/order.js';
import { Uuid } from './common.js';
import { ShippingAddress } from './address.js';
import { z } from './zod.js';

/** Stripe PaymentMethod ids (`pm_…`) only: raw card data never reaches this API. */
export const CheckoutRequest = z
  .object({
    paymentMethodId: z
      .string()
      .min(4)
      .max(255)
      .regex(/^pm_[A-Za-z0-9_]+$/, 'must be a Stripe PaymentMethod id (pm_…)')
      .openapi({ example: 'pm_card_visa' }),
    shippingAddress: ShippingAddress,
  })
  .strict()
  .openapi('CheckoutRequest');

export type CheckoutRequestBody = z.infer<typeof CheckoutRequest>;

export const CheckoutAccepted = z
  .object({ orderId: Uuid, status: z.enum(ORDER_STATUSES) })
  .openapi('CheckoutAccepted', {
    description: 'The order was created (or this Idempotency-Key was seen before: the same answer).',
  });

export type CheckoutAcceptedBody = z.infer<typeof CheckoutAccepted>;

/** 1–255 visible ASCII characters, as the IETF Idempotency-Key draft and Stripe accept. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export const CheckoutHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(IDEMPOTENCY_KEY_PATTERN)
    .openapi({
      description:
        'Required. A client-chosen unique key per checkout attempt (e.g. a UUID). Repeating it returns the ' +
        'first answer and never creates a second order; reusing it with a different body is a 422.',
      example: '6f1c2a9e-5a7b-4f43-9a83-1f0b2e3c4d5e',
    }),
});

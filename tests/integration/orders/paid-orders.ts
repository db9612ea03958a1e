import type Stripe from 'stripe';
import { expect } from 'vitest';
import { stripeWebhook } from '../../../functions/stripe-webhook.js';
import { signStripePayload, type FakeStripe, type StripeEvent } from '../../../infra/fake-stripe/server.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { CheckoutSaga } from '../../../shared/services/checkout/checkout-saga.js';
import type { CheckoutInput } from '../../../shared/services/checkout/checkout-types.js';
import { invoke, type InvokeResult } from '../../support/http.js';
import { fillCart, insertOrder } from '../checkout/helpers.js';

/**
 * Orders paid at a test file's fake Stripe, and that Stripe's side of them (refunds, webhooks), for the
 * refund, cancel and re-drive tests. The checkout's steps run in-process against the Stripe the settings
 * name, so the file must point STRIPE_API_BASE at its fake first.
 */

/** Who buys what in a test file's shop: one product, bought at its price. */
export interface Buyer {
  tenantId: string;
  userId: string;
  productId: string;
  unitPriceCents: number;
}

const saga = new CheckoutSaga(silentLogger);

/** Reserved, PaymentIntent created and confirmed with `pm`; finalize is left to the caller. */
export async function upToConfirm(
  buyer: Buyer,
  pm = 'pm_card_visa',
  quantity = 1,
): Promise<{ input: CheckoutInput; pi: string }> {
  const { tenantId, userId, productId, unitPriceCents } = buyer;
  await fillCart(tenantId, userId, [{ productId, quantity }]);
  const orderId = await insertOrder(tenantId, userId, [{ productId, quantity, unitPriceCents }], pm);
  const input = { orderId, tenantId, paymentTimeoutSeconds: 900 };
  expect(await saga.reserve(input)).toEqual({ outcome: 'reserved' });
  const created = await saga.createIntent(input);
  if (created.outcome !== 'created') throw new Error(JSON.stringify(created));
  await saga.confirm({ ...input, paymentIntentId: created.paymentIntentId });
  return { input, pi: created.paymentIntentId };
}

/** A confirmed order, paid by card. */
export async function confirmedOrder(buyer: Buyer, quantity = 1): Promise<{ orderId: string; pi: string }> {
  const { input, pi } = await upToConfirm(buyer, 'pm_card_visa', quantity);
  expect(await saga.finalize(input)).toEqual({ outcome: 'confirmed' });
  return { orderId: input.orderId, pi };
}

/** The PaymentIntent's refunds as Stripe lists them (newest first), failed ones included. */
export async function stripeRefunds(stripe: Stripe, pi: string): Promise<Stripe.Refund[]> {
  return (await stripe.refunds.list({ payment_intent: pi, limit: 100 })).data;
}

/** The fake's recorded events of `type` about the PaymentIntent (or its charge), oldest first. */
export function stripeEventsFor(fake: FakeStripe, pi: string, type: string): StripeEvent[] {
  return fake
    .events()
    .filter((e) => e.type === type)
    .filter((e) => {
      const object = e.data.object as { id?: string; payment_intent?: string };
      return object.id === pi || object.payment_intent === pi;
    });
}

/** Delivers an event to our webhook endpoint in-process, signed as Stripe signs it. */
export function deliverStripeEvent(event: StripeEvent): Promise<InvokeResult> {
  const payload = JSON.stringify(event);
  return invoke(stripeWebhook, {
    method: 'POST',
    url: 'http://localhost/api/webhooks/stripe',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': signStripePayload(payload, process.env.STRIPE_WEBHOOK_SECRET!),
    },
    rawBody: Buffer.from(payload, 'utf8'),
  });
}

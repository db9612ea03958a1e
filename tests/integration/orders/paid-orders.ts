import type Stripe from 'stripe';
import { expect } from 'vitest';
import { cancelOrder } from '../../../functions/order-cancel.js';
import { stripeWebhook } from '../../../functions/stripe-webhook.js';
import { signStripePayload, type FakeStripe, type StripeEvent } from '../../../infra/fake-stripe/server.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { CheckoutSaga } from '../../../shared/services/checkout/checkout-saga.js';
import { reconcilePayments } from '../../../shared/services/checkout/reconciliation.js';
import { sweepExpiredReservations } from '../../../shared/services/checkout/reservation-sweeper.js';
import type { CheckoutInput } from '../../../shared/services/checkout/checkout-types.js';
import { invoke, type InvokeResult } from '../../support/http.js';
import { testPool } from '../../fixtures/sample_data.js';
import { fillCart, insertOrder, orderRow, type Buyer } from '../checkout/helpers.js';

export type { Buyer };

/**
 * Orders paid at a test file's fake Stripe, and that Stripe's side of them (refunds, webhooks), for the
 * checkout, refund, cancel and re-drive tests. The checkout's steps run in-process against the Stripe the
 * settings name, so the file must point the app at its fake first (tests/support/fake-stripe.ts).
 */

const saga = new CheckoutSaga(silentLogger);

/** A pending order of `quantity` with the same lines in the buyer's cart, as POST /checkout leaves it. */
export async function newOrder(buyer: Buyer, pm = 'pm_card_visa', quantity = 1): Promise<CheckoutInput> {
  const { tenantId, userId, productId, unitPriceCents } = buyer;
  await fillCart(tenantId, userId, [{ productId, quantity }]);
  const orderId = await insertOrder(tenantId, userId, [{ productId, quantity, unitPriceCents }], pm);
  return { orderId, tenantId, paymentTimeoutSeconds: 900 };
}

/** Reserved and its PaymentIntent created; returns the intent's id. */
export async function reserveAndCreate(input: CheckoutInput): Promise<string> {
  expect(await saga.reserve(input)).toEqual({ outcome: 'reserved' });
  const created = await saga.createIntent(input);
  if (created.outcome !== 'created') throw new Error(`unexpected ${JSON.stringify(created)}`);
  return created.paymentIntentId;
}

/** Reserved, PaymentIntent created and confirmed with `pm`; finalize is left to the caller. */
export async function upToConfirm(
  buyer: Buyer,
  pm = 'pm_card_visa',
  quantity = 1,
): Promise<{ input: CheckoutInput; pi: string }> {
  const input = await newOrder(buyer, pm, quantity);
  const pi = await reserveAndCreate(input);
  await saga.confirm({ ...input, paymentIntentId: pi });
  return { input, pi };
}

/** A confirmed order, paid by card. */
export async function confirmedOrder(buyer: Buyer, quantity = 1): Promise<{ orderId: string; pi: string }> {
  const { input, pi } = await upToConfirm(buyer, 'pm_card_visa', quantity);
  expect(await saga.finalize(input)).toEqual({ outcome: 'confirmed' });
  return { orderId: input.orderId, pi };
}

/**
 * One run of a backstop that refunds a closed order whose payment succeeded — the reservation sweeper or
 * the reconciliation (no grace period) — scoped to one shop: refunds made, runs that failed.
 */
export async function runBackstop(
  backstop: 'sweeper' | 'reconciliation',
  tenantId: string,
): Promise<{ refunded: number; failed: number }> {
  const { refunded, failed } =
    backstop === 'sweeper'
      ? await sweepExpiredReservations(silentLogger, { tenantId })
      : await reconcilePayments(silentLogger, { tenantId, graceSeconds: 0 });
  return { refunded, failed };
}

/** The customer's POST /orders/{id}/cancel, in-process. */
export function customerCancel(orderId: string, headers: Record<string, string>): Promise<InvokeResult> {
  return invoke(cancelOrder, {
    method: 'POST',
    url: `http://localhost/api/orders/${orderId}/cancel`,
    headers,
    params: { id: orderId },
  });
}

/** Our payments row of the order: its status and what our refund rows promise back. */
export async function paymentOf(orderId: string): Promise<{ status: string; refunded: number }> {
  const { rows } = await testPool().query<{ status: string; refunded_cents: string }>(
    'select status, refunded_cents from payments where order_id = $1',
    [orderId],
  );
  return { status: rows[0]!.status, refunded: Number(rows[0]!.refunded_cents) };
}

/** POST /v1/refunds as the fake saw them for the intent: key, amount asked, answer, replayed or not. */
export function refundPosts(
  fake: FakeStripe,
  pi: string,
): { key: string | null; amount: unknown; status: number | null; replayed: boolean }[] {
  return fake
    .requests()
    .filter((r) => r.method === 'POST' && r.path === '/v1/refunds' && r.params.payment_intent === pi)
    .map((r) => ({ key: r.idempotencyKey, amount: r.params.amount, status: r.status, replayed: r.replayed }));
}

/** Past the re-drive's "young rows belong to their request" window. */
export async function ageRefunds(orderId: string): Promise<void> {
  await testPool().query(`update refunds set created_at = now() - interval '5 minutes' where order_id = $1`, [
    orderId,
  ]);
}

/** The PaymentIntent's refunds as Stripe lists them (newest first), failed ones included. */
export async function stripeRefunds(stripe: Stripe, pi: string): Promise<Stripe.Refund[]> {
  return (await stripe.refunds.list({ payment_intent: pi, limit: 100 })).data;
}

/**
 * The money rule of issue #17 at a file's fake Stripe (`useFakeStripe`): for an order's PaymentIntent,
 * captured − refunded is the order's total when the order is confirmed, else 0.
 */
export function moneyAt(at: { fake: () => FakeStripe; stripe: () => Stripe }): {
  netCharged: (pi: string) => Promise<number>;
  expectMoneyInvariant: (input: CheckoutInput, pi: string) => Promise<void>;
} {
  /** Money the customer has lost to the shop for this intent, per the fake Stripe. */
  const netCharged = async (pi: string): Promise<number> => {
    const intent = at
      .fake()
      .paymentIntents()
      .find((p) => p.id === pi)!;
    return (
      intent.amount_received - (await stripeRefunds(at.stripe(), pi)).reduce((sum, r) => sum + r.amount, 0)
    );
  };
  return {
    netCharged,
    expectMoneyInvariant: async (input, pi) => {
      const { status, total_cents } = await orderRow(input.orderId);
      expect(await netCharged(pi)).toBe(status === 'confirmed' ? Number(total_cents) : 0);
    },
  };
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
  return deliverStripePayload(JSON.stringify(event));
}

/**
 * Posts `payload` to our webhook endpoint in-process under `signature`: by default Stripe's signature
 * of it with the app's secret, `null` for none (forged, stale and tampered deliveries pass their own).
 */
export function deliverStripePayload(payload: string, signature?: string | null): Promise<InvokeResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const sig =
    signature === undefined ? signStripePayload(payload, process.env.STRIPE_WEBHOOK_SECRET!) : signature;
  if (sig !== null) headers['stripe-signature'] = sig;
  return invoke(stripeWebhook, {
    method: 'POST',
    url: 'http://localhost/api/webhooks/stripe',
    headers,
    rawBody: Buffer.from(payload, 'utf8'),
  });
}

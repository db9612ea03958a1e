import './lib/telemetry-start.js';
import { z } from '../shared/schemas/zod.js';
import { CHECKOUT_ORCHESTRATION, PAYMENT_UPDATED_EVENT } from '../shared/services/checkout/checkout-types.js';
import {
  StripeWebhookService,
  isHandledEvent,
  verifyStripeEvent,
} from '../shared/services/payments/stripe-webhook.js';
import { nudgeAuditRelay } from '../shared/services/audit/nudge.js';
import { durableClientInput, orchestrationClient } from './checkout/durable-client.js';
import { defineRoute } from './lib/route.js';

const Received = z
  .object({ received: z.literal(true), duplicate: z.boolean().optional() })
  .openapi('WebhookReceived');

/**
 * Stripe's webhook: anonymous, verified by signature over the raw bytes. Answers quickly — the work is
 * a few statements in one transaction — and raises the payment outcome to the order's orchestration
 * after the commit. If raising fails, the answer is still 200: the payment state is recorded, and the
 * orchestration reconciles with Stripe when its timer fires (compensation checks the intent first).
 */
export const stripeWebhook = defineRoute({
  name: 'stripeWebhook',
  method: 'POST',
  route: 'webhooks/stripe',
  access: 'public',
  rawBody: true,
  tags: ['webhooks'],
  summary: 'Stripe events (signed)',
  description:
    'Verifies `Stripe-Signature` (5-minute tolerance); a bad, missing or stale signature is a 400 and ' +
    'changes nothing. Each event id is processed once; repeats are acknowledged with 200, as are ' +
    'event types the app does not act on.',
  headers: z.object({ 'stripe-signature': z.string() }),
  extraInputs: [durableClientInput],
  responses: { 200: { description: 'Received', content: { 'application/json': { schema: Received } } } },
  // A unit of work only for an event the app acts on.
  tx: 'on-demand',
  handler: async ({ request, rawBody, log, correlationId, invocation, write }) => {
    const event = await verifyStripeEvent(rawBody, request.headers.get('stripe-signature'));
    if (!isHandledEvent(event)) return { status: 200, body: { received: true } };
    const outcome = await write((em) => new StripeWebhookService(em, log, correlationId).handle(event));
    const duplicate = outcome.kind === 'duplicate';
    return {
      status: 200,
      body: { received: true, ...(duplicate ? { duplicate } : {}) },
      afterCommit: async () => {
        if (outcome.kind !== 'processed') return;
        nudgeAuditRelay(log);
        if (!outcome.notify) return;
        try {
          // 202, or 410 when the instance already finished — both fine (the client resolves them).
          await orchestrationClient(invocation).raiseEvent(
            outcome.orderId,
            PAYMENT_UPDATED_EVENT,
            outcome.notify,
          );
        } catch (error) {
          log.warn(
            `stripe webhook: could not raise ${PAYMENT_UPDATED_EVENT} to ${CHECKOUT_ORCHESTRATION} ${outcome.orderId}`,
            error instanceof Error ? error.message : String(error),
          );
        }
      },
    };
  },
});

import './lib/telemetry-start.js';
import { getSettings } from '../shared/config/index.js';
import { ValidationException } from '../shared/errors/index.js';
import {
  CheckoutAccepted,
  CheckoutHeaders,
  CheckoutRequest,
  IDEMPOTENCY_KEY_PATTERN,
} from '../shared/schemas/checkout.js';
import { Problem } from '../shared/schemas/common.js';
import { CheckoutService } from '../shared/services/checkout/checkout-service.js';
import { ensureCheckoutStarted } from '../shared/services/checkout/orchestration-client.js';
import { durableClientInput, orchestrationClient } from './checkout/durable-client.js';
import { CHECKOUT_RATE_LIMIT } from '../shared/services/rate-limit/limits.js';
import { defineRoute } from './lib/route.js';

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: Problem } },
});

function idempotencyKey(value: string | null): string {
  if (value === null || value === '') {
    throw new ValidationException([
      { field: 'header.idempotency-key', message: 'Idempotency-Key is required for checkout' },
    ]);
  }
  if (!IDEMPOTENCY_KEY_PATTERN.test(value)) {
    throw new ValidationException([
      { field: 'header.idempotency-key', message: 'must be 1–255 visible ASCII characters' },
    ]);
  }
  return value;
}

export const checkout = defineRoute({
  name: 'checkout',
  method: 'POST',
  route: 'checkout',
  access: 'customer',
  tags: ['checkout'],
  summary: 'Place an order from the cart',
  description:
    'Creates a `pending` order with the cart’s lines and prices, and starts its processing (reserve ' +
    'stock, charge the PaymentMethod). Poll the Location. Exactly once per Idempotency-Key: the same key ' +
    'again returns the same answer and never a second order; with a different body it is a 422.',
  headers: CheckoutHeaders,
  body: CheckoutRequest,
  rateLimit: CHECKOUT_RATE_LIMIT,
  extraInputs: [durableClientInput],
  responses: {
    202: {
      description: 'Accepted (or the answer to an earlier request with this key)',
      headers: { Location: { schema: { type: 'string' }, description: 'The order: /api/orders/{orderId}' } },
      content: { 'application/json': { schema: CheckoutAccepted } },
    },
    409: problem('The cart is empty, or over a fair-stock cap (open unpaid orders, units of one product)'),
    429: problem('Too many checkouts from this account; see Retry-After'),
    422: problem('Idempotency-Key reused with a different body'),
    503: problem('Saved, but processing could not start: retry with the same Idempotency-Key'),
  },
  handler: async ({ request, body, domain, invocation, log }) => {
    const key = idempotencyKey(request.headers.get('idempotency-key'));
    const placed = await new CheckoutService(domain).placeOrder(key, body);
    const orderId = placed.response.orderId;
    return {
      status: 202,
      body: placed.response,
      headers: { location: `/api/orders/${orderId}`, 'cache-control': 'no-store' },
      // After the commit, so the orchestration's first activity finds the order. A still-pending order
      // (a retry after a failed start) is started again; a second start of a live instance is harmless.
      ...(placed.needsOrchestration
        ? {
            afterCommit: () =>
              ensureCheckoutStarted(
                orchestrationClient(invocation),
                {
                  orderId,
                  tenantId: domain.tenantId,
                  paymentTimeoutSeconds: getSettings().CHECKOUT_PAYMENT_TIMEOUT_SECONDS,
                },
                log,
              ),
          }
        : {}),
    };
  },
});

import './lib/telemetry-start.js';
import type { InvocationContext } from '@azure/functions';
import type { Logger } from '../shared/logging/logger.js';
import { problemResponse } from '../shared/schemas/catalog.js';
import { IdParams } from '../shared/schemas/common.js';
import { OrderBody } from '../shared/schemas/orders.js';
import { nudgeAuditRelay } from '../shared/services/audit/nudge.js';
import { PAYMENT_UPDATED_EVENT } from '../shared/services/checkout/checkout-types.js';
import type { CancelOutcome } from '../shared/services/orders/cancel-service.js';
import { CancelService } from '../shared/services/orders/cancel-service.js';
import { nudgeOrderEventRelay } from '../shared/services/orders/order-events.js';
import { OrderQueryService } from '../shared/services/orders/order-query-service.js';
import { durableClientInput, orchestrationClient } from './checkout/durable-client.js';
import { defineRoute } from './lib/route.js';

/**
 * After a cancellation: relays nudged, and — for an order cancelled before payment — its checkout
 * orchestration told, so it stops waiting for a payment and runs its compensations now (each a no-op
 * or a repeat of what the cancel did). A failed raise only logs: the orchestration's own timer ends it,
 * and every step it still runs reads the order cancelled.
 */
export async function afterCancel(
  outcome: CancelOutcome,
  invocation: InvocationContext,
  log: Logger,
): Promise<void> {
  nudgeOrderEventRelay(log);
  nudgeAuditRelay(log);
  if (outcome.kind !== 'open') return;
  try {
    await orchestrationClient(invocation).raiseEvent(outcome.orderId, PAYMENT_UPDATED_EVENT, {
      status: 'canceled',
    });
  } catch (error) {
    log.warn(
      `cancel: could not tell the checkout of order ${outcome.orderId}`,
      error instanceof Error ? error.message : String(error),
    );
  }
}

export const cancelOrder = defineRoute({
  name: 'cancelOrder',
  method: 'POST',
  route: 'orders/{id}/cancel',
  access: 'customer',
  // Its own transactions: Stripe is called between them, never while a row lock is held.
  tx: 'read',
  tags: ['orders'],
  summary: 'Cancel one of your orders',
  description:
    'Before shipping: the payment is cancelled, or refunded in full if it was taken, and the stock ' +
    'returns; the order becomes `cancelled` and you are emailed. Cancelling again returns the same ' +
    'answer. A shipped order, or one whose payment is still settling, is a 409.',
  params: IdParams,
  extraInputs: [durableClientInput],
  responses: {
    200: { description: 'The cancelled order', content: { 'application/json': { schema: OrderBody } } },
    404: problemResponse('No such order of yours'),
    409: problemResponse('Shipped, refunded, closed, or its payment is settling'),
  },
  handler: async ({ params, domain, invocation, log }) => {
    const outcome = await new CancelService(domain).cancel(params.id, {
      reason: 'cancelled by the customer',
      restock: true,
      ownerId: domain.principal?.userId ?? '',
    });
    return {
      body: await new OrderQueryService(domain).get(params.id),
      headers: { 'cache-control': 'no-store' },
      afterCommit: () => afterCancel(outcome, invocation, log),
    };
  },
});

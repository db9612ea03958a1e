import { jsonResponse, problemResponse } from '../shared/schemas/catalog.js';
import { IdParams } from '../shared/schemas/common.js';
import { ValidationException } from '../shared/errors/index.js';
import { IDEMPOTENCY_KEY_PATTERN } from '../shared/schemas/checkout.js';
import {
  CancelRequest,
  FulfilmentCreated,
  FulfilmentRequest,
  ManagedOrder,
  ManagedOrderPage,
  ManagedOrderQuery,
  Refund,
  RefundHeaders,
  RefundRequest,
} from '../shared/schemas/manage-orders.js';
import { CancelService } from '../shared/services/orders/cancel-service.js';
import { RefundService } from '../shared/services/orders/refund-service.js';
import { durableClientInput } from './checkout/durable-client.js';
import { afterCancel } from './order-cancel.js';
import { nudgeAuditRelay } from '../shared/services/audit/nudge.js';
import { FulfilmentService } from '../shared/services/orders/fulfilment-service.js';
import { OrderDeskService } from '../shared/services/orders/order-desk-service.js';
import { nudgeOrderEventRelay } from '../shared/services/orders/order-events.js';
import { defineRoute } from './lib/route.js';

const notFound = problemResponse('No such order in this tenant');

export const listManagedOrders = defineRoute({
  name: 'adminListOrders',
  method: 'GET',
  route: 'manage/orders',
  access: 'admin',
  tags: ['admin'],
  summary: 'Every order of the tenant, newest first',
  description:
    'Filters: `status`, `from` (inclusive) and `to` (exclusive) on the creation time, `email` (the ' +
    'customer’s, matched through its blind index). Keyset-paginated (`cursor`, `pageSize` ≤ 100); one ' +
    'SQL statement per page whatever its size.',
  query: ManagedOrderQuery,
  responses: { 200: jsonResponse(ManagedOrderPage, 'A page') },
  handler: async ({ query, domain }) => ({
    body: await new OrderDeskService(domain).list(query),
    headers: { 'cache-control': 'private, no-store' },
  }),
});

export const getManagedOrder = defineRoute({
  name: 'adminGetOrder',
  method: 'GET',
  route: 'manage/orders/{id}',
  access: 'admin',
  tags: ['admin'],
  summary: 'One order with its customer, address, payment, refunds, fulfilment and timeline',
  params: IdParams,
  responses: { 200: jsonResponse(ManagedOrder, 'The order'), 404: notFound },
  handler: async ({ params, domain }) => ({
    body: await new OrderDeskService(domain).get(params.id),
    headers: { 'cache-control': 'private, no-store' },
  }),
});

export const createFulfilment = defineRoute({
  name: 'adminCreateFulfilment',
  method: 'POST',
  route: 'manage/orders/{id}/fulfilments',
  access: 'admin',
  tags: ['admin'],
  summary: 'Ship a confirmed order',
  description:
    'Records the carrier and tracking number and moves the order from `confirmed` to `shipped`; the ' +
    'customer is emailed (`order.shipped`). The same fulfilment again returns the same answer.',
  params: IdParams,
  body: FulfilmentRequest,
  responses: {
    201: jsonResponse(FulfilmentCreated, 'Shipped (or this very fulfilment was recorded before)'),
    404: notFound,
    409: problemResponse('The order is not confirmed, or shipped with another fulfilment'),
  },
  handler: async ({ params, body, domain, log }) => {
    const { body: result } = await new FulfilmentService(domain).ship(params.id, body);
    return {
      status: 201,
      body: result,
      headers: { location: `/api/manage/orders/${params.id}` },
      afterCommit: () => {
        nudgeOrderEventRelay(log);
        nudgeAuditRelay(log);
        return Promise.resolve();
      },
    };
  },
});

export const cancelManagedOrder = defineRoute({
  name: 'adminCancelOrder',
  method: 'POST',
  route: 'manage/orders/{id}/cancel',
  access: 'admin',
  // Its own transactions: Stripe is called between them, never while a row lock is held.
  tx: 'read',
  tags: ['admin'],
  summary: 'Cancel an order that has not shipped',
  description:
    'Like the customer’s cancel, also after payment: an open order’s PaymentIntent is cancelled (or ' +
    'refunded if it succeeded), a confirmed order is refunded in full; `restock` (default true) puts ' +
    'the units back on sale. Repeating returns the same answer; a shipped order is a 409.',
  params: IdParams,
  body: CancelRequest,
  extraInputs: [durableClientInput],
  responses: {
    200: jsonResponse(ManagedOrder, 'The cancelled order'),
    404: notFound,
    409: problemResponse('Shipped, refunded, closed, or its payment is settling'),
  },
  handler: async ({ params, body, domain, invocation, log }) => {
    const outcome = await new CancelService(domain).cancel(params.id, {
      reason: body.reason.trim(),
      restock: body.restock ?? true,
    });
    return {
      body: await new OrderDeskService(domain).get(params.id),
      headers: { 'cache-control': 'no-store' },
      afterCommit: () => afterCancel(outcome, invocation, log),
    };
  },
});

function idempotencyKey(value: string | null): string {
  if (value === null || !IDEMPOTENCY_KEY_PATTERN.test(value)) {
    throw new ValidationException([
      { field: 'header.idempotency-key', message: 'required: 1–255 visible ASCII characters' },
    ]);
  }
  return value;
}

export const createRefund = defineRoute({
  name: 'adminCreateRefund',
  method: 'POST',
  route: 'manage/orders/{id}/refunds',
  access: 'admin',
  // Its own transactions: Stripe is called between them, never while a row lock is held.
  tx: 'read',
  tags: ['admin'],
  summary: 'Refund a confirmed or shipped order, in full or in part',
  description:
    '`Idempotency-Key` required: the same key returns the same refund; with another body it is a 422. ' +
    '`amountCents` defaults to what is left; more than that is a 409. `restock` puts units of the ' +
    'order’s lines back on sale. The refund is `pending` while Stripe is unavailable (repeat the ' +
    'request to finish it). Refunded in full, the order becomes `refunded`; the customer is emailed.',
  params: IdParams,
  headers: RefundHeaders,
  body: RefundRequest,
  responses: {
    201: jsonResponse(Refund, 'The refund (or the one made earlier with this key)'),
    404: notFound,
    409: problemResponse('Not refundable, or more than what is left to refund'),
    422: problemResponse('Idempotency-Key reused with a different body'),
  },
  handler: async ({ request, params, body, domain, log }) => {
    const key = idempotencyKey(request.headers.get('idempotency-key'));
    const { refund } = await new RefundService(domain).create(params.id, key, body);
    return {
      status: 201,
      body: refund,
      headers: { location: `/api/manage/orders/${params.id}`, 'cache-control': 'no-store' },
      afterCommit: () => {
        nudgeOrderEventRelay(log);
        nudgeAuditRelay(log);
        return Promise.resolve();
      },
    };
  },
});

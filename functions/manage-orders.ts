import { jsonResponse, problemResponse } from '../shared/schemas/catalog.js';
import { IdParams } from '../shared/schemas/common.js';
import {
  FulfilmentCreated,
  FulfilmentRequest,
  ManagedOrder,
  ManagedOrderPage,
  ManagedOrderQuery,
} from '../shared/schemas/manage-orders.js';
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

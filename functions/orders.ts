import './lib/telemetry-start.js';
import { IdParams } from '../shared/schemas/common.js';
import { OrderBody, OrderListQuery, OrderPage } from '../shared/schemas/orders.js';
import { OrderQueryService } from '../shared/services/orders/order-query-service.js';
import { defineRoute } from './lib/route.js';

export const listOrders = defineRoute({
  name: 'listOrders',
  method: 'GET',
  route: 'orders',
  access: 'customer',
  tags: ['orders'],
  summary: 'Own order history, newest first',
  description:
    'Keyset-paginated (`cursor`, `pageSize` ≤ 100), each order with its lines and payment status. ' +
    'Two SQL statements per page whatever its size.',
  query: OrderListQuery,
  responses: { 200: { description: 'A page', content: { 'application/json': { schema: OrderPage } } } },
  handler: async ({ query, domain }) => ({
    body: await new OrderQueryService(domain).history(query.pageSize, query.cursor),
    headers: { 'cache-control': 'private, no-store' },
  }),
});

export const getOrder = defineRoute({
  name: 'getOrder',
  method: 'GET',
  route: 'orders/{id}',
  access: 'customer',
  tags: ['orders'],
  summary: 'One of your orders',
  description:
    'Status, lines, payment status, `failureReason` when it failed, and the PaymentIntent `clientSecret` ' +
    'while the order is `requires_action` (3-D Secure).',
  params: IdParams,
  responses: { 200: { description: 'The order', content: { 'application/json': { schema: OrderBody } } } },
  handler: async ({ params, domain }) => ({
    body: await new OrderQueryService(domain).get(params.id),
    headers: { 'cache-control': 'private, no-store' },
  }),
});

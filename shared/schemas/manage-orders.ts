import { ORDER_STATUSES } from '../models/order.js';
import { ShippingAddress, addressLine } from './address.js';
import { IDEMPOTENCY_KEY_PATTERN } from './checkout.js';
import { Currency, Money, PageQuery, Uuid, pageOf } from './common.js';
import { Fulfilment, OrderLineBody, OrderPayment } from './orders.js';
import { z } from './zod.js';

export const FulfilmentRequest = z
  .object({
    carrier: addressLine(100).openapi({ example: 'DHL' }),
    trackingNumber: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9 -]{0,99}$/, 'must be 1–100 letters, digits, spaces or hyphens')
      .openapi({ example: '00340434161094042557' }),
  })
  .strict()
  .openapi('FulfilmentRequest');
export type FulfilmentRequestBody = z.infer<typeof FulfilmentRequest>;

export const FulfilmentCreated = Fulfilment.extend({
  orderId: Uuid,
  status: z.enum(ORDER_STATUSES),
}).openapi('FulfilmentCreated');
export type FulfilmentCreatedBody = z.infer<typeof FulfilmentCreated>;

const Customer = z.object({ id: Uuid, email: z.string(), name: z.string() }).openapi('OrderCustomer');

const Payment = OrderPayment;

export const ManagedOrderSummary = z
  .object({
    id: Uuid,
    status: z.enum(ORDER_STATUSES),
    totalCents: Money,
    currency: Currency,
    customer: Customer,
    payment: Payment,
    fulfilment: Fulfilment.optional(),
    createdAt: z.iso.datetime(),
  })
  .openapi('ManagedOrderSummary');
export type ManagedOrderSummaryBody = z.infer<typeof ManagedOrderSummary>;

export const ManagedOrderPage = pageOf(ManagedOrderSummary, 'ManagedOrderPage');

export const TimelineEntry = z
  .object({
    at: z.iso.datetime(),
    entity: z.string(),
    action: z.string().openapi({ example: 'status:shipped' }),
    actor: z.object({ userId: Uuid.nullable(), role: z.enum(['admin', 'customer', 'system']) }).nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .openapi('OrderTimelineEntry');
export type TimelineEntryBody = z.infer<typeof TimelineEntry>;

export const Refund = z
  .object({
    id: Uuid,
    amountCents: Money,
    reason: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    createdAt: z.iso.datetime(),
  })
  .openapi('Refund');
export type RefundBody = z.infer<typeof Refund>;

const RefundReason = z.string().trim().min(1).max(500).openapi({ example: 'damaged in transit' });

export const RefundRequest = z
  .object({
    amountCents: Money.min(1)
      .optional()
      .openapi({ description: 'Minor units; omitted = everything not refunded yet.' }),
    reason: RefundReason,
    restock: z
      .array(z.object({ productId: Uuid, quantity: z.number().int().min(1).max(1_000_000) }).strict())
      .max(100)
      .optional()
      .openapi({ description: 'Units of the order’s lines to put back on sale (at most what was bought).' }),
  })
  .strict()
  .openapi('RefundRequest');
export type RefundRequestBody = z.infer<typeof RefundRequest>;

export const CancelRequest = z
  .object({
    reason: RefundReason,
    restock: z
      .boolean()
      .optional()
      .openapi({ description: 'Put the bought units back on sale (default true).' }),
  })
  .strict()
  .openapi('CancelRequest');
export type CancelRequestBody = z.infer<typeof CancelRequest>;

export const RefundHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(IDEMPOTENCY_KEY_PATTERN)
    .openapi({
      description:
        'Required. One key per intended refund: repeating it returns the first answer and never refunds ' +
        'twice; reusing it with a different body is a 422.',
    }),
});

export const ManagedOrder = ManagedOrderSummary.extend({
  lines: z.array(OrderLineBody),
  shippingAddress: z.union([ShippingAddress, z.null()]),
  failureReason: z.string().optional(),
  refunds: z.array(Refund),
  timeline: z.array(TimelineEntry).openapi({
    description: 'The order’s audit trail, oldest first: what happened, who did it, before and after.',
  }),
  timelineComplete: z.boolean().openapi({
    description: 'False when the audit database could not be read: only entries not yet relayed are shown.',
  }),
}).openapi('ManagedOrder');
export type ManagedOrderBody = z.infer<typeof ManagedOrder>;

const Instant = z.iso
  .datetime({ offset: true })
  .openapi({ description: 'ISO 8601 instant with a zone, e.g. 2026-11-01T00:00:00Z.' });

export const ManagedOrderQuery = PageQuery.extend({
  status: z.enum(ORDER_STATUSES).optional(),
  from: Instant.optional().openapi({ description: 'Created at or after (inclusive).' }),
  to: Instant.optional().openapi({ description: 'Created before (exclusive).' }),
  email: z.string().min(3).max(320).optional().openapi({
    description: 'The customer’s email, matched exactly (case-insensitive) via its blind index.',
  }),
})
  .strict()
  .refine((q) => !q.from || !q.to || Date.parse(q.from) < Date.parse(q.to), {
    message: '`from` must be before `to`',
    path: ['to'],
  });
export type ManagedOrderQueryValue = z.infer<typeof ManagedOrderQuery>;

/** The desk's keyset position: created_at (microseconds, UTC) then id, both descending. */
export const ManagedOrderCursor = z.object({
  c: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
  i: Uuid,
});

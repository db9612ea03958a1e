import { emailBlindIndex } from '../../crypto/blind-index.js';
import type { FieldCipher } from '../../crypto/field-cipher.js';
import { NotFoundException } from '../../errors/index.js';
import { OrderDeskRepository, type DeskOrder } from '../../repositories/order-desk-repository.js';
import { OrderRepository } from '../../repositories/order-repository.js';
import { RefundRepository } from '../../repositories/refund-repository.js';
import {
  ManagedOrderCursor,
  type ManagedOrderBody,
  type ManagedOrderQueryValue,
  type ManagedOrderSummaryBody,
  type TimelineEntryBody,
} from '../../schemas/manage-orders.js';
import { cursorCodec, toPage } from '../../utils/cursor.js';
import { isUuid } from '../../utils/ids.js';
import { readAuditTrail, type TrailEntry } from '../audit/audit-trail.js';
import { getEmailIndexKey } from '../auth/pii-keys.js';
import type { DomainContext } from '../context.js';
import { getFieldCipher } from '../pii-cipher.js';
import { decryptAddress } from './order-query-service.js';
import { toRefundBody } from './refund-service.js';

function summary(order: DeskOrder, cipher: FieldCipher): ManagedOrderSummaryBody {
  const body: ManagedOrderSummaryBody = {
    id: order.id,
    status: order.status,
    totalCents: order.totalCents,
    currency: order.currency,
    customer: { id: order.userId, email: cipher.decrypt(order.customerEmailEnc), name: order.customerName },
    payment: {
      status: order.paymentStatus ?? 'pending',
      paymentIntentId: order.paymentIntentId,
      refundedCents: order.refundedCents,
      disputed: order.disputed,
    },
    createdAt: new Date(order.createdAt).toISOString(),
  };
  if (order.fulfilment) body.fulfilment = order.fulfilment;
  return body;
}

function timelineEntry(entry: TrailEntry): TimelineEntryBody {
  const { actor, correlationId: _correlationId, ...details } = entry.payload;
  const known =
    actor && typeof actor === 'object' && 'role' in actor ? (actor as TimelineEntryBody['actor']) : null;
  return {
    at: new Date(entry.occurredAt).toISOString(),
    entity: entry.entity,
    action: entry.action,
    actor: known,
    details,
  };
}

/**
 * The order desk: every order of the tenant for its admins. A page is one statement whatever its size
 * and filters (customer and payment joined; the email filter goes through the blind index, so no email
 * is ever compared in plaintext); the detail is a fixed number: the order, its lines, its payment's id,
 * its refunds and its audit trail.
 */
export class OrderDeskService {
  private readonly desk: OrderDeskRepository;

  constructor(private readonly ctx: DomainContext) {
    this.desk = new OrderDeskRepository(ctx);
  }

  async list(
    query: ManagedOrderQueryValue,
  ): Promise<{ items: ManagedOrderSummaryBody[]; nextCursor: string | null }> {
    const emailBidx =
      query.email === undefined ? undefined : emailBlindIndex(await getEmailIndexKey(), query.email);
    // A cursor continues the list it was issued for: the filters are part of its signed scope.
    const filters = [query.status ?? '', query.from ?? '', query.to ?? '', emailBidx ?? ''].join('|');
    const codec = await cursorCodec({ tenantId: this.ctx.tenantId, list: `manage-orders:${filters}` });
    const after = codec.decode(query.cursor, ManagedOrderCursor);
    const rows = await this.desk.page(
      {
        status: query.status,
        from: query.from,
        to: query.to,
        emailBidx,
        after: after ? { createdAt: after.c, id: after.i } : undefined,
      },
      query.pageSize + 1,
    );
    const cipher = await getFieldCipher();
    return toPage(
      rows,
      query.pageSize,
      (row) => summary(row, cipher),
      (row) => ({ c: row.createdAt, i: row.id }),
      codec,
    );
  }

  async get(orderId: string): Promise<ManagedOrderBody> {
    const order = isUuid(orderId) ? await this.desk.find(orderId) : undefined;
    if (!order) throw new NotFoundException('Order not found.');
    const [lines, paymentId, refunds] = [
      await new OrderRepository(this.ctx).linesOf([order.id]),
      await this.desk.paymentId(order.id),
      await new RefundRepository(this.ctx).ofOrder(order.id),
    ];
    const trail = await readAuditTrail(this.ctx, paymentId ? [order.id, paymentId] : [order.id]);
    const cipher = await getFieldCipher();
    const body: ManagedOrderBody = {
      ...summary(order, cipher),
      lines: lines.map(({ orderId: _orderId, ...line }) => line),
      shippingAddress: decryptAddress(cipher, order.shippingAddressEnc),
      refunds: refunds.map(toRefundBody),
      timeline: trail.entries.map(timelineEntry),
      timelineComplete: trail.complete,
    };
    if (order.failureReason) body.failureReason = order.failureReason;
    return body;
  }
}

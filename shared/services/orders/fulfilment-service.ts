import { ConflictException, NotFoundException, UnauthorizedException } from '../../errors/index.js';
import { OrderDeskRepository } from '../../repositories/order-desk-repository.js';
import { OrderRepository } from '../../repositories/order-repository.js';
import type { FulfilmentCreatedBody, FulfilmentRequestBody } from '../../schemas/manage-orders.js';
import { isUuid } from '../../utils/ids.js';
import { AuditOutboxWriter } from '../audit/outbox.js';
import type { DomainContext } from '../context.js';
import { stableEventId, writeOrderEvent } from './order-events.js';

export class OrderNotShippableException extends ConflictException {
  override readonly type = 'order-not-shippable';
  override readonly title = 'Order cannot be shipped';
  constructor(status: string) {
    super(`Only a confirmed order can ship; this one is ${status}.`);
    this.extensions.orderStatus = status;
  }
}

/**
 * Shipping an order (confirmed → shipped), in the request's transaction: the order row is locked first,
 * so two admins shipping at once are serialised and the second sees the first's fulfilment. Then the
 * fulfilment row, the status change with its audit row (actor, before, after) and the `order.shipped`
 * event, all committing together. A repeat with the same carrier and tracking number is answered like
 * the first; a different one, or an order in any status but confirmed, is a 409 that changes nothing.
 */
export class FulfilmentService {
  private readonly desk: OrderDeskRepository;

  constructor(private readonly ctx: DomainContext) {
    this.desk = new OrderDeskRepository(ctx);
  }

  async ship(
    orderId: string,
    request: FulfilmentRequestBody,
  ): Promise<{ body: FulfilmentCreatedBody; created: boolean }> {
    const actorId = this.ctx.principal?.userId;
    if (!actorId) throw new UnauthorizedException();
    const status = isUuid(orderId) ? await this.desk.lockStatus(orderId) : undefined;
    if (!status) throw new NotFoundException('Order not found.');

    if (status === 'shipped') {
      const existing = await this.desk.fulfilment(orderId);
      if (
        existing &&
        existing.carrier === request.carrier &&
        existing.trackingNumber === request.trackingNumber
      ) {
        return { body: { orderId, status, ...existing }, created: false };
      }
      throw new ConflictException('This order has already shipped with another fulfilment.');
    }
    if (status !== 'confirmed') throw new OrderNotShippableException(status);

    await this.desk.insertFulfilment(orderId, request.carrier, request.trackingNumber, actorId);
    const moved = await new AuditOutboxWriter(this.ctx).recordChange(
      new OrderRepository(this.ctx).transitionStatement(orderId, 'shipped', ['confirmed']),
      {
        entity: 'order',
        action: 'status:shipped',
        payload: {
          before: { status: 'confirmed' },
          after: { status: 'shipped', carrier: request.carrier, trackingNumber: request.trackingNumber },
        },
      },
    );
    // The row is locked and was confirmed: the conditional update cannot miss.
    if (moved.length !== 1) throw new Error(`order ${orderId}: ship transition did not apply`);
    await writeOrderEvent(this.ctx, {
      type: 'order.shipped',
      orderId,
      eventId: stableEventId(orderId, 'order.shipped'),
      data: { carrier: request.carrier, trackingNumber: request.trackingNumber },
    });
    const fulfilment = await this.desk.fulfilment(orderId);
    if (!fulfilment) throw new Error(`order ${orderId}: fulfilment not found after insert`);
    return { body: { orderId, status: 'shipped', ...fulfilment }, created: true };
  }
}

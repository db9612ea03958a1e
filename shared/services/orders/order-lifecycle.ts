import type { OrderStatus } from '../../models/order.js';
import { OrderRepository } from '../../repositories/order-repository.js';
import { AuditOutboxWriter } from '../audit/outbox.js';
import type { DomainContext } from '../context.js';
import { ORDER_PREDECESSORS } from './order-status.js';

/**
 * Order status changes: the forward-only conditional update and its audit row, written by one
 * statement in the caller's unit of work (so both commit together). Returns whether the status changed; false means the order was
 * not in a status that may precede `to` — already there or past it — and nothing was written.
 */
export class OrderLifecycle {
  private readonly orders: OrderRepository;
  private readonly audit: AuditOutboxWriter;

  constructor(private readonly ctx: DomainContext) {
    this.orders = new OrderRepository(ctx);
    this.audit = new AuditOutboxWriter(ctx);
  }

  /** One statement (update + audit row), so it is atomic even outside a transaction. */
  async move(orderId: string, to: OrderStatus, failureReason?: string): Promise<boolean> {
    const moved = await this.audit.recordChange(
      this.orders.transitionStatement(orderId, to, ORDER_PREDECESSORS[to], failureReason),
      {
        entity: 'order',
        action: `status:${to}`,
        payload: { status: to, ...(failureReason ? { failureReason } : {}) },
      },
    );
    return moved.length === 1;
  }
}

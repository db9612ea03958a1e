import type { EntityManager } from '@mikro-orm/postgresql';
import { getSettings } from '../../config/index.js';
import { runUnitOfWork, type UnitOfWorkMode } from '../../db/unit-of-work.js';
import { InsufficientInventoryException } from '../../errors/index.js';
import type { Logger } from '../../logging/logger.js';
import { getMessageSender, type MessageSender } from '../../messaging/index.js';
import {
  OrderRepository,
  readCommittedOrder,
  readCommittedOrderWithLines,
  type OrderRecord,
} from '../../repositories/order-repository.js';
import { trackEvent, trackMetric } from '../../telemetry/index.js';
import { nudgeAuditRelay } from '../audit/nudge.js';
import { CartService } from '../cart/cart-service.js';
import { invalidateProductStock } from '../catalog/catalog-cache.js';
import type { DomainContext } from '../context.js';
import { InventoryService } from '../inventory/inventory-service.js';
import { OrderLifecycle } from '../orders/order-lifecycle.js';
import { nudgeOrderEventRelay, stableEventId, writeOrderEvent } from '../orders/order-events.js';
import { TERMINAL_ORDER_STATUSES } from '../orders/order-status.js';
import { PaymentLedger } from '../payments/payment-ledger.js';
import { StripePaymentGateway, paymentStatusOf, type PaymentGateway } from '../payments/payment-gateway.js';
import type {
  CheckoutInput,
  CompensateInput,
  CompensateOutcome,
  ConfirmInput,
  ConfirmOutcome,
  CreateIntentOutcome,
  FinalizeOutcome,
  ReserveOutcome,
} from './checkout-types.js';

export interface CheckoutStepDeps {
  gateway: () => PaymentGateway;
  sender: () => MessageSender;
}

const defaultDeps: CheckoutStepDeps = {
  gateway: () => new StripePaymentGateway(),
  sender: getMessageSender,
};

/** The `order.confirmed` integration event (body of the Service Bus message). */
export interface OrderConfirmedEvent {
  type: 'order.confirmed';
  orderId: string;
  tenantId: string;
  userId: string;
  totalCents: number;
  currency: string;
  lines: { productId: string; quantity: number }[];
}

const PAYMENT_REASONS = new Set([
  'payment_declined',
  'payment_failed',
  'payment_canceled',
  'payment_timeout',
  'payment_error',
]);

/**
 * The checkout orchestration's activities. Each one is safe to run twice — the orchestration retries
 * them and the Functions host may redeliver — because every write is a forward-only conditional
 * transition or an idempotent insert, and every Stripe call carries a key derived from the order id
 * and the step. Transient failures throw (the orchestration's RetryOptions retry them); business
 * outcomes (out of stock, declined) are returned as values, never thrown, so they are never retried.
 */
export class CheckoutSteps {
  constructor(
    private readonly log: Logger,
    private readonly deps: CheckoutStepDeps = defaultDeps,
  ) {}

  /**
   * A unit of work in the order's tenant. `write` is one transaction; `autocommit` (the unit of work's
   * `read` mode: no transaction) is for reads and for writes that are a single statement — each order
   * or payment change is one statement with its audit row, atomic on its own, and skipping
   * BEGIN/COMMIT saves two round trips per step.
   */
  private unit<T>(
    mode: UnitOfWorkMode | 'autocommit',
    input: CheckoutInput,
    fn: (ctx: DomainContext) => Promise<T>,
  ): Promise<T> {
    return runUnitOfWork(mode === 'autocommit' ? 'read' : mode, (em: EntityManager) =>
      fn({ em, tenantId: input.tenantId, log: this.log, correlationId: input.orderId }),
    );
  }

  /**
   * The order as committed, for a step's first look: one autocommit statement (no EntityManager), since
   * nothing here is uncommitted yet. A status seen here only short-cuts; every
   * write after it is conditional on the status it moves from, so a stale read cannot misplace one.
   */
  private async order(input: CheckoutInput): Promise<OrderRecord> {
    const order = await readCommittedOrder(input.tenantId, input.orderId);
    if (!order) throw new Error(`order ${input.orderId} not found`);
    return order;
  }

  /** pending → reserved: every line held, or the order fails with insufficient_inventory and holds nothing. */
  async reserve(input: CheckoutInput): Promise<ReserveOutcome> {
    // The lines come with the order (they never change after checkout): one read instead of two.
    const found = await readCommittedOrderWithLines(input.tenantId, input.orderId);
    if (!found) throw new Error(`order ${input.orderId} not found`);
    const { order, lines } = found;
    if (order.status === 'paid' || order.status === 'confirmed') return { outcome: 'paid' };
    if (TERMINAL_ORDER_STATUSES.includes(order.status)) return { outcome: 'closed', status: order.status };
    if (order.status !== 'pending') return { outcome: 'reserved' };

    const ttl = getSettings().RESERVATION_TTL_SECONDS;
    let products: string[];
    try {
      // No surrounding transaction: a one-line order's reservation is a single atomic statement that
      // holds the hot row's lock only while it runs; several lines get a transaction of their own.
      products = await this.unit('autocommit', input, async (ctx) => {
        await new InventoryService(ctx).reserve(input.orderId, lines, ttl);
        return lines.map((line) => line.productId);
      });
    } catch (error) {
      if (!(error instanceof InsufficientInventoryException)) throw error;
      await this.unit('autocommit', input, (ctx) =>
        new OrderLifecycle(ctx).move(input.orderId, 'failed', 'insufficient_inventory'),
      );
      nudgeAuditRelay(this.log);
      return { outcome: 'insufficient', productId: error.productId };
    }

    // Product pages show available stock: their cached details are stale now.
    await invalidateProductStock(input.tenantId, products, this.log);
    const moved = await this.unit('autocommit', input, (ctx) =>
      new OrderLifecycle(ctx).move(input.orderId, 'reserved'),
    );
    if (moved) {
      nudgeAuditRelay(this.log);
      return { outcome: 'reserved' };
    }
    const outcome = await this.unit('write', input, async (ctx): Promise<ReserveOutcome> => {
      // Someone closed the order meanwhile: give the stock back rather than hold it for nobody.
      const now = await new OrderRepository(ctx).find(input.orderId);
      if (now && TERMINAL_ORDER_STATUSES.includes(now.status) && now.status !== 'confirmed') {
        await new InventoryService(ctx).release(input.orderId);
        return { outcome: 'closed', status: now.status };
      }
      return { outcome: 'reserved' };
    });
    if (outcome.outcome === 'closed') await invalidateProductStock(input.tenantId, products, this.log);
    nudgeAuditRelay(this.log);
    return outcome;
  }

  /** reserved → awaiting_payment, and a PaymentIntent for the order's amount (key `${orderId}:create`). */
  async createIntent(input: CheckoutInput): Promise<CreateIntentOutcome> {
    const order = await this.order(input);
    if (order.status === 'paid' || order.status === 'confirmed') return { outcome: 'paid' };
    if (TERMINAL_ORDER_STATUSES.includes(order.status)) return { outcome: 'closed', status: order.status };

    // Two single statements, each atomic with its audit row; no transaction needed between them: a
    // re-run after a crash in between finds the order moved (a no-op) and opens the payment then.
    const existing = await this.unit('autocommit', input, async (ctx) => {
      await new OrderLifecycle(ctx).move(input.orderId, 'awaiting_payment');
      const ledger = new PaymentLedger(ctx);
      // Just opened: it has no PaymentIntent yet. Only a re-run needs to look for one.
      if (await ledger.open(input.orderId, order.totalCents, order.currency)) return null;
      return (await ledger.payments.findByOrder(input.orderId))?.paymentIntentId ?? null;
    });
    if (existing) return { outcome: 'created', paymentIntentId: existing };

    const created = await this.deps.gateway().createIntent({
      orderId: order.id,
      tenantId: order.tenantId,
      amountCents: order.totalCents,
      currency: order.currency,
    });
    if (created.kind === 'rejected') {
      await this.unit('autocommit', input, (ctx) =>
        new PaymentLedger(ctx).advance(input.orderId, 'failed', {
          lastError: created.code,
          source: 'create',
        }),
      );
      return { outcome: 'rejected', code: created.code };
    }
    await this.unit('autocommit', input, (ctx) =>
      new PaymentLedger(ctx).attachIntent(input.orderId, created.intent.id, paymentStatusOf(created.intent)),
    );
    return { outcome: 'created', paymentIntentId: created.intent.id };
  }

  /** Confirms with the customer's PaymentMethod (key `${orderId}:confirm`). */
  async confirm(input: ConfirmInput): Promise<ConfirmOutcome> {
    const order = await this.order(input);
    if (order.status === 'paid' || order.status === 'confirmed') return { outcome: 'succeeded' };
    if (TERMINAL_ORDER_STATUSES.includes(order.status)) return { outcome: 'closed', status: order.status };

    const result = await this.deps
      .gateway()
      .confirmIntent(input.orderId, input.paymentIntentId, order.paymentMethodId);
    // Only requires_action writes twice (payment and order); every other outcome is one statement.
    const mode = result.kind === 'requires_action' ? 'write' : 'autocommit';
    return this.unit(mode, input, async (ctx): Promise<ConfirmOutcome> => {
      const ledger = new PaymentLedger(ctx);
      switch (result.kind) {
        case 'succeeded':
          await ledger.advance(input.orderId, 'succeeded', { source: 'confirm' });
          return { outcome: 'succeeded' };
        case 'requires_action':
          await ledger.advance(input.orderId, 'requires_action', {
            clientSecret: result.intent.clientSecret,
            source: 'confirm',
          });
          await new OrderLifecycle(ctx).move(input.orderId, 'requires_action');
          return { outcome: 'requires_action' };
        case 'processing':
          // Settles asynchronously: like 3-D Secure, the webhook tells the waiting orchestration.
          await ledger.advance(input.orderId, 'processing', { source: 'confirm' });
          return { outcome: 'requires_action' };
        case 'declined':
          await ledger.advance(input.orderId, 'failed', { lastError: result.code, source: 'confirm' });
          return { outcome: 'declined', code: result.code };
        case 'rejected':
          await ledger.advance(input.orderId, 'failed', { lastError: result.code, source: 'confirm' });
          return { outcome: 'rejected', code: result.code };
      }
    });
  }

  /**
   * Payment succeeded: in one transaction the order goes paid → confirmed, its reservations are
   * committed (stock leaves on-hand) and the bought lines leave the cart. Then `order.confirmed` is
   * published (messageId `${orderId}:confirmed`, so a re-run's re-send is dropped as a duplicate).
   * If the order had closed meanwhile (the sweeper expired it), the payment is refunded instead.
   */
  async finalize(input: CheckoutInput): Promise<FinalizeOutcome> {
    const result = await this.unit('write', input, async (ctx) => {
      const lifecycle = new OrderLifecycle(ctx);
      const orders = new OrderRepository(ctx);
      // Locks the order row first, as the sweeper does, so the two can never interleave.
      const paid = await lifecycle.move(input.orderId, 'paid');
      const found = await orders.findWithLines(input.orderId);
      if (!found) throw new Error(`order ${input.orderId} not found`);
      const { order, lines } = found;
      if (!paid && order.status !== 'paid') {
        if (order.status === 'confirmed') return { kind: 'already' as const, order, lines };
        if (TERMINAL_ORDER_STATUSES.includes(order.status)) return { kind: 'closed' as const, order };
        // Not yet awaiting payment: finalize was called out of order. Fail the attempt, refund nothing.
        throw new Error(`order ${order.id} cannot be finalized from ${order.status}`);
      }
      await new PaymentLedger(ctx).advance(input.orderId, 'succeeded', { source: 'finalize' });
      await new InventoryService(ctx).commit(input.orderId);
      await new CartService(ctx, order.userId).removeOrdered(lines);
      await lifecycle.move(input.orderId, 'confirmed');
      // Issue #18: the event commits with the confirmation (the order-events outbox; relayed after commit).
      await writeOrderEvent(ctx, {
        type: 'order.confirmed',
        orderId: order.id,
        eventId: stableEventId(order.id, 'order.confirmed'),
        data: {
          userId: order.userId,
          totalCents: order.totalCents,
          currency: order.currency,
          lines: lines.map((line) => ({ productId: line.productId, quantity: line.quantity })),
        },
      });
      return { kind: 'confirmed' as const, order, lines };
    });

    if (result.kind === 'closed') return this.refund(input, result.order);
    nudgeAuditRelay(this.log);
    const { order } = result;
    if (result.kind === 'confirmed') {
      trackMetric('CheckoutDurationMs', Date.now() - Date.parse(order.createdAt), {
        tenantId: order.tenantId,
      });
    }
    nudgeOrderEventRelay(this.log);
    return { outcome: 'confirmed' };
  }

  private async refund(input: CheckoutInput, order: OrderRecord): Promise<FinalizeOutcome> {
    const payment = await this.unit('read', input, (ctx) =>
      new PaymentLedger(ctx).payments.findByOrder(order.id),
    );
    if (payment?.paymentIntentId && payment.status !== 'refunded') {
      await this.deps.gateway().refundIntent(order.id, payment.paymentIntentId);
      await this.unit('autocommit', input, (ctx) =>
        new PaymentLedger(ctx).advance(order.id, 'refunded', { source: 'finalize' }),
      );
      trackEvent('PaymentRefunded', {
        tenantId: order.tenantId,
        orderId: order.id,
        orderStatus: order.status,
      });
      this.log.warn(`order ${order.id}: paid after it closed (${order.status}); payment refunded`);
      nudgeAuditRelay(this.log);
    }
    return { outcome: 'refunded' };
  }

  /**
   * Undo: cancel the PaymentIntent if one exists and did not succeed (key `${orderId}:cancel`), release
   * every reservation, close the order as failed/expired with the reason. If the intent turns out to
   * have succeeded (the customer finished 3-D Secure as the timer fired), nothing is undone and the
   * orchestration finalizes instead.
   */
  async compensate(input: CompensateInput): Promise<CompensateOutcome> {
    const order = await this.order(input);
    if (order.status === 'paid' || order.status === 'confirmed') return { outcome: 'payment_succeeded' };

    const payment = await this.unit('read', input, (ctx) =>
      new PaymentLedger(ctx).payments.findByOrder(order.id),
    );
    let lastError: string | null = null;
    if (payment?.status === 'succeeded') return { outcome: 'payment_succeeded' };
    if (payment?.paymentIntentId && payment.status !== 'canceled') {
      const intent = await this.deps.gateway().cancelIntent(order.id, payment.paymentIntentId);
      if (intent.status === 'succeeded') {
        await this.unit('autocommit', input, (ctx) =>
          new PaymentLedger(ctx).advance(order.id, 'succeeded', { source: 'compensate' }),
        );
        return { outcome: 'payment_succeeded' };
      }
      lastError = intent.lastErrorCode;
      await this.unit('autocommit', input, (ctx) =>
        new PaymentLedger(ctx).advance(order.id, paymentStatusOf(intent), { source: 'compensate' }),
      );
    }

    const { moved, released } = await this.unit('write', input, async (ctx) => ({
      moved: await new OrderLifecycle(ctx).move(order.id, input.status, input.reason),
      released: await new InventoryService(ctx).release(order.id),
    }));
    if (released.length > 0) await invalidateProductStock(order.tenantId, released, this.log);
    if (moved && PAYMENT_REASONS.has(input.reason)) {
      // The infrastructure's "failed payments" alert (→ finance) keys on exactly this event name.
      const code = lastError ?? payment?.status;
      trackEvent('PaymentFailed', {
        tenantId: order.tenantId,
        orderId: order.id,
        reason: input.reason,
        ...(code ? { code } : {}),
      });
    }
    nudgeAuditRelay(this.log);
    return { outcome: 'compensated' };
  }
}

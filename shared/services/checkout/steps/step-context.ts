import type { EntityManager } from '@mikro-orm/postgresql';
import { runUnitOfWork, type UnitOfWorkMode } from '../../../db/unit-of-work.js';
import type { Logger } from '../../../logging/logger.js';
import { getMessageSender, type MessageSender } from '../../../messaging/index.js';
import type { OrderStatus } from '../../../models/order.js';
import type { PaymentStatus } from '../../../models/payment.js';
import { readCommittedOrder, type OrderRecord } from '../../../repositories/order-repository.js';
import { trackMetric } from '../../../telemetry/index.js';
import type { DomainContext } from '../../context.js';
import { StripePaymentGateway, type PaymentGateway } from '../../payments/payment-gateway.js';
import type { CheckoutInput } from '../checkout-types.js';

export interface StepDeps {
  log: Logger;
  gateway: () => PaymentGateway;
  sender: () => MessageSender;
}

export function defaultStepDeps(log: Logger): StepDeps {
  return { log, gateway: () => new StripePaymentGateway(), sender: getMessageSender };
}

/**
 * A unit of work in the order's tenant. `write` is one transaction; `autocommit` (the unit of work's
 * `read` mode: no transaction) is for reads and for writes that are a single statement — each order
 * or payment change is one statement with its audit row, atomic on its own.
 */
export function unit<T>(
  deps: StepDeps,
  mode: UnitOfWorkMode | 'autocommit',
  input: Pick<CheckoutInput, 'orderId' | 'tenantId'>,
  fn: (ctx: DomainContext) => Promise<T>,
): Promise<T> {
  return runUnitOfWork(mode === 'autocommit' ? 'read' : mode, (em: EntityManager) =>
    fn({ em, tenantId: input.tenantId, log: deps.log, correlationId: input.orderId }),
  );
}

/** The order as committed (one autocommit statement): a status seen here only short-cuts. */
export async function committedOrder(
  input: Pick<CheckoutInput, 'orderId' | 'tenantId'>,
): Promise<OrderRecord> {
  const order = await readCommittedOrder(input.tenantId, input.orderId);
  if (!order) throw new Error(`order ${input.orderId} not found`);
  return order;
}

export interface PaymentState {
  status: PaymentStatus;
  paymentIntentId: string | null;
  amountCents: number;
  currency: string;
  lastError: string | null;
}

/** The order's payment row, with `last_error` (which says whether Stripe's amount matched). */
export async function paymentOf(
  ctx: DomainContext,
  orderId: string,
  lock = false,
): Promise<PaymentState | undefined> {
  const rows = await ctx.em.execute<
    {
      status: PaymentStatus;
      payment_intent_id: string | null;
      amount_cents: string;
      currency: string;
      last_error: string | null;
    }[]
  >(
    `select status, payment_intent_id, amount_cents, currency, last_error from payments
     where tenant_id = ? and order_id = ?${lock ? ' for update' : ''}`,
    [ctx.tenantId, orderId],
  );
  const row = rows[0];
  return row
    ? {
        status: row.status,
        paymentIntentId: row.payment_intent_id,
        amountCents: Number(row.amount_cents),
        currency: row.currency,
        lastError: row.last_error,
      }
    : undefined;
}

/** Locks the order row (the lock finalize, closeOrder and the sweeper all take first) and reads its status. */
export async function lockOrder(ctx: DomainContext, orderId: string): Promise<OrderStatus | undefined> {
  const rows = await ctx.em.execute<{ status: OrderStatus }[]>(
    `select status from orders where tenant_id = ? and id = ? for update`,
    [ctx.tenantId, orderId],
  );
  return rows[0]?.status;
}

/** `CheckoutDurationMs`: POST /checkout → the order's terminal state, once per order (whoever ends it). */
export function recordCheckoutEnd(
  order: Pick<OrderRecord, 'tenantId' | 'createdAt'>,
  outcome: OrderStatus,
): void {
  trackMetric('CheckoutDurationMs', Date.now() - Date.parse(order.createdAt), {
    tenantId: order.tenantId,
    outcome,
  });
}

import type { OrderStatus } from '../../models/order.js';
import type { FailureReason } from '../orders/order-status.js';

/** Names shared by the HTTP functions, the orchestrator and the webhook. */
export const CHECKOUT_ORCHESTRATION = 'checkoutOrchestrator';
export const PAYMENT_UPDATED_EVENT = 'PaymentUpdated';

export const ACTIVITY = {
  reserve: 'checkoutReserveInventory',
  createIntent: 'checkoutCreatePaymentIntent',
  confirm: 'checkoutConfirmPayment',
  finalize: 'checkoutFinalize',
  compensate: 'checkoutCompensate',
} as const;

/** The orchestration's input; its instance id is the order id. */
export interface CheckoutInput {
  orderId: string;
  tenantId: string;
  /** Fixed at start so every replay computes the same deadline. */
  paymentTimeoutSeconds: number;
}

export type ReserveOutcome =
  | { outcome: 'reserved' }
  | { outcome: 'insufficient'; productId: string }
  /** The order is already paid (a re-run after finalize). */
  | { outcome: 'paid' }
  /** The order is already closed (failed/cancelled/expired): nothing to do. */
  | { outcome: 'closed'; status: OrderStatus };

export type CreateIntentOutcome =
  | { outcome: 'created'; paymentIntentId: string }
  | { outcome: 'rejected'; code: string }
  | { outcome: 'paid' }
  | { outcome: 'closed'; status: OrderStatus };

export interface ConfirmInput extends CheckoutInput {
  paymentIntentId: string;
}

export type ConfirmOutcome =
  | { outcome: 'succeeded' }
  /** 3-D Secure (or an asynchronous method): wait for the webhook's PaymentUpdated event. */
  | { outcome: 'requires_action' }
  | { outcome: 'declined'; code: string }
  | { outcome: 'rejected'; code: string }
  | { outcome: 'closed'; status: OrderStatus };

/** What the webhook tells a waiting orchestration: a payment outcome. */
export interface PaymentUpdate {
  status: 'succeeded' | 'failed' | 'canceled';
}

export interface CompensateInput extends CheckoutInput {
  status: 'failed' | 'expired';
  reason: FailureReason;
}

export type CompensateOutcome =
  | { outcome: 'compensated' }
  /** The payment turned out to have succeeded (e.g. it completed as the timer fired): finalize instead. */
  | { outcome: 'payment_succeeded' };

export type FinalizeOutcome =
  | { outcome: 'confirmed' }
  /** Paid for an order that had already closed (expired by the sweeper): the payment was refunded. */
  | { outcome: 'refunded' };

/** The orchestration's output, for the status endpoint and logs. */
export interface CheckoutResult {
  orderId: string;
  status: OrderStatus;
  reason?: FailureReason;
}

import type { OrderStatus } from '../../models/order.js';
import type { PaymentStatus } from '../../models/payment.js';
import type { FailureReason } from '../orders/order-status.js';

/** Names shared by the HTTP functions, the orchestrator and the webhook. */
export const CHECKOUT_ORCHESTRATION = 'checkoutOrchestrator';
export const PAYMENT_UPDATED_EVENT = 'PaymentUpdated';

export const ACTIVITY = {
  reserve: 'checkoutReserveInventory',
  createIntent: 'checkoutCreatePaymentIntent',
  confirm: 'checkoutConfirmPayment',
  finalize: 'checkoutFinalize',
  /** reserve's compensation: closeOrder (release the stock, close the order). */
  release: 'checkoutReleaseInventory',
  /** createIntent's compensation: cancel the intent, or refund it. */
  undoPaymentIntent: 'checkoutUndoPaymentIntent',
  /** The payment as the ledger or Stripe states it (never as an event says): before acting on a failure. */
  checkPayment: 'checkoutCheckPayment',
  /** Holds the stock longer while Stripe settles a `processing` payment. */
  extendReservation: 'checkoutExtendReservation',
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
  /** 3-D Secure: wait for the webhook's PaymentUpdated event. */
  | { outcome: 'requires_action' }
  /** An asynchronous method: Stripe settles it later (minutes to days); the order stays open meanwhile. */
  | { outcome: 'processing' }
  | { outcome: 'declined'; code: string }
  | { outcome: 'rejected'; code: string }
  | { outcome: 'closed'; status: OrderStatus };

/**
 * What the webhook tells a waiting orchestration: a hint that the payment moved, never proof. Anyone
 * who can reach the durable runtime API can raise it; finalize and the compensations read the ledger
 * (Stripe's own answers and signed webhooks) or Stripe itself before acting.
 */
export interface PaymentUpdate {
  status: 'succeeded' | 'failed' | 'canceled';
}

export interface CompensateInput extends CheckoutInput {
  status: 'failed' | 'expired';
  reason: FailureReason;
}

/** createIntent's compensation; `refund` also refunds an intent that already succeeded. */
export interface UndoPaymentInput extends CompensateInput {
  refund?: boolean;
}

/** What a compensation found. Only `undone` lets the stack move on to the next one. */
export type UndoOutcome =
  | { outcome: 'undone' }
  /** The payment turned out to have succeeded (e.g. it completed as the timer fired): finalize instead. */
  | { outcome: 'payment_succeeded' }
  /** Stripe is settling the payment and refuses to cancel it: keep the order open and ask again later. */
  | { outcome: 'processing' };

/** What the ledger (Stripe's answers, signed webhooks) or Stripe itself says of the payment now. */
export interface PaymentCheck {
  status: PaymentStatus | 'none';
}

export type FinalizeOutcome =
  | { outcome: 'confirmed' }
  /**
   * Refunded instead: paid for an order that had already closed (expired by the sweeper, by default),
   * or Stripe's amount/currency differ from the order's (`failed`, `payment_error`).
   */
  | { outcome: 'refunded'; status?: 'failed' | 'expired'; reason?: FailureReason }
  /** Neither the ledger nor Stripe shows a succeeded payment: nothing was changed. */
  | { outcome: 'not_paid' };

/** The orchestration's output, for the status endpoint and logs. */
export interface CheckoutResult {
  orderId: string;
  status: OrderStatus;
  reason?: FailureReason;
}

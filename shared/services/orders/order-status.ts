import type { OrderStatus } from '../../models/order.js';

const OPEN: OrderStatus[] = ['pending', 'reserved', 'awaiting_payment', 'requires_action'];

/**
 * The order state machine (API.md): pending → reserved → awaiting_payment (→ requires_action) → paid →
 * confirmed → shipped, or from any open status to failed / cancelled / expired; a confirmed or shipped
 * order refunded in full becomes refunded. A status may only be entered
 * from the statuses listed here, so every transition is one conditional UPDATE and nothing moves back.
 */
export const ORDER_PREDECESSORS: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: [],
  reserved: ['pending'],
  awaiting_payment: ['reserved'],
  requires_action: ['awaiting_payment'],
  paid: ['awaiting_payment', 'requires_action'],
  confirmed: ['paid'],
  // After checkout (ADR 0060): a confirmed order ships; a confirmed or shipped one refunded in full.
  shipped: ['confirmed'],
  refunded: ['confirmed', 'shipped'],
  failed: OPEN,
  // Before shipping (ADR 0060): an open order, or a confirmed one whose payment is refunded in full.
  cancelled: [...OPEN, 'confirmed'],
  expired: OPEN,
};

export const TERMINAL_ORDER_STATUSES: readonly OrderStatus[] = [
  'confirmed',
  'failed',
  'cancelled',
  'expired',
];

/**
 * Statuses of an order whose sale went through (confirmed, and what a confirmed order can become).
 * Checkout steps re-run on such an order (a replay, the sweeper, reconciliation) must report the sale,
 * never refund it as if the order had closed unpaid.
 */
export const SOLD_ORDER_STATUSES: readonly OrderStatus[] = ['confirmed', 'shipped', 'refunded'];

export function isSoldOrder(status: OrderStatus): boolean {
  return SOLD_ORDER_STATUSES.includes(status);
}

export function isOpenOrder(status: OrderStatus): boolean {
  return OPEN.includes(status);
}

/** Reasons recorded on failed/expired orders (the API's `failureReason`). */
export type FailureReason =
  | 'insufficient_inventory'
  | 'payment_declined'
  | 'payment_failed'
  | 'payment_canceled'
  | 'payment_timeout'
  | 'payment_error'
  | 'reservation_expired'
  | 'internal_error';

import { trackEvent } from '../../../telemetry/index.js';
import { nudgeAuditRelay } from '../../audit/nudge.js';
import { OrderLifecycle } from '../../orders/order-lifecycle.js';
import { recordStripeRefunds } from '../../orders/refund-service.js';
import { TERMINAL_ORDER_STATUSES, isSoldOrder } from '../../orders/order-status.js';
import { cancelOrRefund, freshKey } from '../../payments/money-rules.js';
import { TransientPaymentError } from '../../payments/payment-errors.js';
import { paymentStatusOf, type CreateResult } from '../../payments/payment-gateway.js';
import { PaymentLedger } from '../../payments/payment-ledger.js';
import type { CheckoutInput, CreateIntentOutcome, UndoOutcome, UndoPaymentInput } from '../checkout-types.js';
import { committedOrder, paymentOf, unit, type StepDeps } from './step-context.js';

/**
 * Step 2 — create PaymentIntent ↔ cancel-or-refund it.
 * Action: reserved → awaiting_payment, and a PaymentIntent for the order's amount and currency.
 * Compensation: the intent can no longer take money — cancelled, or (when asked) refunded if it had
 * already succeeded. Until that is true the compensation does not report done.
 */
export async function createPaymentIntent(
  deps: StepDeps,
  input: CheckoutInput,
): Promise<CreateIntentOutcome> {
  const order = await committedOrder(input);
  if (order.status === 'paid' || isSoldOrder(order.status)) return { outcome: 'paid' };
  if (TERMINAL_ORDER_STATUSES.includes(order.status)) return { outcome: 'closed', status: order.status };

  // Two single statements, each atomic with its audit row; a re-run after a crash in between finds the
  // order moved (a no-op) and opens the payment then.
  const existing = await unit(deps, 'autocommit', input, async (ctx) => {
    await new OrderLifecycle(ctx).move(input.orderId, 'awaiting_payment');
    const ledger = new PaymentLedger(ctx);
    // Just opened: it has no PaymentIntent yet. Only a re-run needs to look for one.
    if (await ledger.open(input.orderId, order.totalCents, order.currency)) return null;
    return (await ledger.payments.findByOrder(input.orderId))?.paymentIntentId ?? null;
  });
  if (existing) return { outcome: 'created', paymentIntentId: existing };

  const request = {
    orderId: order.id,
    tenantId: order.tenantId,
    amountCents: order.totalCents,
    currency: order.currency,
  };
  let created: CreateResult;
  try {
    created = await deps.gateway().createIntent(request);
  } catch (error) {
    // A first 5xx may be answered for real by the next attempt under the same key (the orchestration
    // retries), and a lost answer is then replayed without a second intent. A *replayed* 5xx means
    // Stripe saved it: that key can never create the intent. Our ledger has none, so one is still
    // needed: a fresh key. If the failed request did create one, it was never confirmed (it holds no
    // money) and stays unused.
    if (!(error instanceof TransientPaymentError) || !error.replayed) throw error;
    created = await deps.gateway().createIntent(request, freshKey(order.id, 'create'));
  }
  if (created.kind === 'rejected') {
    await unit(deps, 'autocommit', input, (ctx) =>
      new PaymentLedger(ctx).advance(input.orderId, 'failed', { lastError: created.code, source: 'create' }),
    );
    return { outcome: 'rejected', code: created.code };
  }
  const intent = created.intent;
  await unit(deps, 'autocommit', input, (ctx) =>
    new PaymentLedger(ctx).attachIntent(input.orderId, intent.id, paymentStatusOf(intent)),
  );
  return { outcome: 'created', paymentIntentId: intent.id };
}

/** The intent's compensation: cancel it, or refund it when `refund` is set and it already succeeded. */
export async function undoPaymentIntent(deps: StepDeps, input: UndoPaymentInput): Promise<UndoOutcome> {
  const payment = await unit(deps, 'read', input, (ctx) => paymentOf(ctx, input.orderId));
  if (!payment?.paymentIntentId || payment.status === 'canceled' || payment.status === 'refunded') {
    return { outcome: 'undone' };
  }
  const undone = await cancelOrRefund(deps.gateway(), input.orderId, payment.paymentIntentId, {
    refund: input.refund ?? false,
  });
  const source = 'cancel' as const;
  if (undone.kind === 'undone' && undone.refunded) {
    // Our refund of the rest has no refund row, and other refunds (the dashboard's) may not be counted
    // yet: only their charge.refunded webhooks would count them, and a lost one would leave the books
    // short of Stripe for good. So Stripe's list is counted here, as that webhook does (a later delivery
    // finds every refund recorded). If the list fails, the payment stays `succeeded`: the sweeper and
    // reconciliation come back, the refund replays under its key, and the list is read again.
    const stripeRefunds = await deps.gateway().listRefunds(undone.intent.id);
    await unit(deps, 'write', input, async (ctx) => {
      await recordStripeRefunds(ctx, input.orderId, stripeRefunds);
      await new PaymentLedger(ctx).advance(input.orderId, 'refunded', { source: 'refund' });
    });
  } else {
    await unit(deps, 'autocommit', input, async (ctx) => {
      const ledger = new PaymentLedger(ctx);
      if (undone.kind === 'succeeded') await ledger.recordSucceeded(input.orderId, undone.intent, source);
      else if (undone.kind === 'processing') await ledger.advance(input.orderId, 'processing', { source });
      else
        await ledger.advance(input.orderId, 'canceled', { lastError: undone.intent.lastErrorCode, source });
    });
  }
  if (undone.kind === 'succeeded') return { outcome: 'payment_succeeded' };
  if (undone.kind === 'processing') return { outcome: 'processing' };
  if (undone.refunded) {
    trackEvent('PaymentRefunded', {
      tenantId: input.tenantId,
      orderId: input.orderId,
      paymentIntentId: undone.intent.id,
    });
    deps.log.warn(`order ${input.orderId}: payment ${undone.intent.id} refunded (${input.reason})`);
  }
  nudgeAuditRelay(deps.log);
  return { outcome: 'undone' };
}

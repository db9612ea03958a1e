import { OrderLifecycle } from '../../orders/order-lifecycle.js';
import { TERMINAL_ORDER_STATUSES, isSoldOrder } from '../../orders/order-status.js';
import { confirmIntent } from '../../payments/money-rules.js';
import { PaymentLedger } from '../../payments/payment-ledger.js';
import type { ConfirmInput, ConfirmOutcome } from '../checkout-types.js';
import { committedOrder, unit, type StepDeps } from './step-context.js';

/**
 * Step 3 — confirm (no compensation of its own: the intent's cancel-or-refund undoes it).
 * Confirms with the customer's PaymentMethod and records what Stripe answered. After a 5xx it reads the
 * intent first and confirms again under a fresh key only if nothing happened (money-rules.ts).
 */
export async function confirmPayment(deps: StepDeps, input: ConfirmInput): Promise<ConfirmOutcome> {
  const order = await committedOrder(input);
  if (order.status === 'paid' || isSoldOrder(order.status)) return { outcome: 'succeeded' };
  if (TERMINAL_ORDER_STATUSES.includes(order.status)) return { outcome: 'closed', status: order.status };

  const result = await confirmIntent(
    deps.gateway(),
    input.orderId,
    input.paymentIntentId,
    order.paymentMethodId,
  );
  // Only requires_action writes twice (payment and order); every other outcome is one statement.
  const mode = result.kind === 'requires_action' ? 'write' : 'autocommit';
  return unit(deps, mode, input, async (ctx): Promise<ConfirmOutcome> => {
    const ledger = new PaymentLedger(ctx);
    switch (result.kind) {
      case 'succeeded':
        await ledger.recordSucceeded(input.orderId, result.intent, 'confirm');
        return { outcome: 'succeeded' };
      case 'requires_action':
        await ledger.advance(input.orderId, 'requires_action', {
          clientSecret: result.intent.clientSecret,
          source: 'confirm',
        });
        await new OrderLifecycle(ctx).move(input.orderId, 'requires_action');
        return { outcome: 'requires_action' };
      case 'processing':
        // Settles asynchronously; the order stays open (awaiting_payment) until Stripe says how.
        await ledger.advance(input.orderId, 'processing', { source: 'confirm' });
        return { outcome: 'processing' };
      case 'declined':
        await ledger.advance(input.orderId, 'failed', { lastError: result.code, source: 'confirm' });
        return { outcome: 'declined', code: result.code };
      case 'rejected':
        await ledger.advance(input.orderId, 'failed', { lastError: result.code, source: 'confirm' });
        return { outcome: 'rejected', code: result.code };
    }
  });
}

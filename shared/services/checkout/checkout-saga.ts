import type { Logger } from '../../logging/logger.js';
import type { CloseOutcome } from './close-order.js';
import type {
  CheckoutInput,
  CompensateInput,
  ConfirmInput,
  ConfirmOutcome,
  CreateIntentOutcome,
  FinalizeOutcome,
  PaymentCheck,
  ReserveOutcome,
  UndoOutcome,
  UndoPaymentInput,
} from './checkout-types.js';
import { confirmPayment } from './steps/confirm.js';
import { finalizeOrder, verifiedPayment } from './steps/finalize.js';
import { createPaymentIntent, undoPaymentIntent } from './steps/payment-intent.js';
import { extendReservation, releaseInventory, reserveInventory } from './steps/reserve.js';
import { defaultStepDeps, type StepDeps } from './steps/step-context.js';

/**
 * Checkout as a saga: each step (one file under steps/) exports its action and, beside it, the
 * compensation that undoes it. The orchestration keeps the compensations of the steps that ran on a
 * stack and runs them in reverse; the sweeper and reconciliation run the same compensations. Every
 * function is safe to run twice and concurrently with the others.
 *
 *   reserve       ↔ release (closeOrder)
 *   create intent ↔ cancel-or-refund
 *   confirm         (undone by the intent's compensation)
 *   finalize        (none: the money is taken; the sale completes or is refunded)
 */
export class CheckoutSaga {
  readonly deps: StepDeps;

  constructor(log: Logger, deps: Partial<Omit<StepDeps, 'log'>> = {}) {
    this.deps = { ...defaultStepDeps(log), ...deps };
  }

  reserve(input: CheckoutInput): Promise<ReserveOutcome> {
    return reserveInventory(this.deps, input);
  }

  release(input: CompensateInput): Promise<CloseOutcome> {
    return releaseInventory(this.deps, input);
  }

  extendReservation(input: CheckoutInput): Promise<number> {
    return extendReservation(this.deps, input);
  }

  createIntent(input: CheckoutInput): Promise<CreateIntentOutcome> {
    return createPaymentIntent(this.deps, input);
  }

  undoPaymentIntent(input: UndoPaymentInput): Promise<UndoOutcome> {
    return undoPaymentIntent(this.deps, input);
  }

  confirm(input: ConfirmInput): Promise<ConfirmOutcome> {
    return confirmPayment(this.deps, input);
  }

  finalize(input: CheckoutInput): Promise<FinalizeOutcome> {
    return finalizeOrder(this.deps, input);
  }

  async checkPayment(input: CheckoutInput): Promise<PaymentCheck> {
    return { status: (await verifiedPayment(this.deps, input))?.status ?? 'none' };
  }

  /**
   * Every compensation at once, in reverse step order: the intent can no longer take money, then the
   * order closes and its stock returns. Stops at the first that does not report done (the payment
   * succeeded, or is still processing). For callers without a durable stack (sweeper, tests).
   */
  async compensate(input: UndoPaymentInput): Promise<UndoOutcome> {
    const undone = await this.undoPaymentIntent(input);
    if (undone.outcome !== 'undone') return undone;
    const closed = await this.release(input);
    return closed.outcome === 'closed' ? { outcome: 'undone' } : closed;
  }
}

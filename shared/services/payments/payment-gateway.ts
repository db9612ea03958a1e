import type Stripe from 'stripe';
import type { PaymentStatus } from '../../models/payment.js';
import { classifyStripeError, transient } from './payment-errors.js';
import { getStripe } from './stripe-client.js';

/** What the domain needs to know about a PaymentIntent. */
export interface IntentView {
  id: string;
  status: Stripe.PaymentIntent.Status;
  /** Only while the customer must act (3-D Secure); handed to the client through GET /orders/{id}. */
  clientSecret: string | null;
  lastErrorCode: string | null;
  /** What Stripe says the intent is for, in the smallest currency unit; compared with the order's. */
  amount: number;
  /** Lower-case ISO code, as Stripe reports it. */
  currency: string;
  /** Captured so far (the upper bound of any refund). */
  amountReceived: number;
}

export type ConfirmResult =
  | { kind: 'succeeded'; intent: IntentView }
  | { kind: 'requires_action'; intent: IntentView }
  | { kind: 'processing'; intent: IntentView }
  | { kind: 'declined'; code: string }
  | { kind: 'rejected'; code: string };

export type CreateResult = { kind: 'created'; intent: IntentView } | { kind: 'rejected'; code: string };

/** A refund at Stripe, with the id of our refund row when we created it (its metadata). */
export interface RefundView {
  id: string;
  amount: number;
  status: string;
  /** `metadata.refundId`: our refunds row; absent for refunds made in the dashboard. */
  refundId: string | null;
  /** True for the checkout backstop's refunds (`metadata.origin`), which have no row of ours. */
  backstop: boolean;
}

/** `metadata.origin` of the refunds the checkout's backstop makes (`refundIntent`). */
export const BACKSTOP_REFUND_ORIGIN = 'backstop';

export type RefundResult =
  | { kind: 'created'; refund: RefundView }
  /** Stripe refused it for good (e.g. `amount_too_large`, `charge_already_refunded`). */
  | { kind: 'rejected'; code: string };

export interface CreateIntentInput {
  orderId: string;
  tenantId: string;
  amountCents: number;
  currency: string;
}

/**
 * The narrow payment port of the domain. Every mutating call carries an idempotency key derived from
 * the order and the step, so a retried or re-run activity replays Stripe's stored answer instead of
 * charging twice. Final outcomes (declines, rejections) are returned; transient failures throw
 * TransientPaymentError.
 */
export interface PaymentGateway {
  createIntent(input: CreateIntentInput, key?: string): Promise<CreateResult>;
  confirmIntent(
    orderId: string,
    intentId: string,
    paymentMethodId: string,
    key?: string,
  ): Promise<ConfirmResult>;
  /** Cancels unless it already succeeded or was cancelled; returns the intent as it ends up. */
  cancelIntent(orderId: string, intentId: string, key?: string): Promise<IntentView>;
  retrieveIntent(intentId: string): Promise<IntentView>;
  /**
   * Refunds a succeeded intent: what is left of it, or `amount`. False when Stripe answered that the
   * charge was already refunded in full.
   */
  refundIntent(
    orderId: string,
    intentId: string,
    options?: { amount?: number; key?: string },
  ): Promise<boolean>;
  /** The sum of the intent's refunds that are not failed or canceled (Stripe's list of refunds). */
  refundedAmount(intentId: string): Promise<number>;
  /** One refund of `amount`, tagged with our refund id; `key` is derived from that id by the caller. */
  createRefund(intentId: string, amount: number, refundId: string, key: string): Promise<RefundResult>;
  /** Every refund of the intent (Stripe's list, all pages). */
  listRefunds(intentId: string): Promise<RefundView[]>;
}

export type MoneyStep = 'create' | 'confirm' | 'cancel' | 'refund';

/**
 * The first attempt of each step uses a key fixed by order and step, so concurrent or repeated runs
 * share Stripe's saved answer. Stripe also saves a 5xx under that key for 24 h
 * (docs.stripe.com/idempotency): after one, the caller reads Stripe's state and, only if the operation
 * is still needed, tries again under a fresh key (see money-rules.ts).
 */
export const idempotencyKey = (orderId: string, step: MoneyStep): string => `${orderId}:${step}`;

function view(intent: Stripe.PaymentIntent): IntentView {
  return {
    id: intent.id,
    status: intent.status,
    clientSecret: intent.status === 'requires_action' ? intent.client_secret : null,
    lastErrorCode: intent.last_payment_error?.decline_code ?? intent.last_payment_error?.code ?? null,
    amount: intent.amount,
    currency: intent.currency,
    amountReceived: intent.amount_received,
  };
}

function refundView(refund: Stripe.Refund): RefundView {
  const refundId = refund.metadata?.refundId;
  return {
    id: refund.id,
    amount: refund.amount,
    status: refund.status ?? 'pending',
    refundId: refundId ?? null,
    backstop: refund.metadata?.origin === BACKSTOP_REFUND_ORIGIN,
  };
}

/** The view of a PaymentIntent object received in a (verified) webhook event. */
export const intentViewOf = view;

/** Our payments-table status for a PaymentIntent status (a declined intent returns to requires_payment_method). */
export function paymentStatusOf(intent: IntentView): PaymentStatus {
  switch (intent.status) {
    case 'requires_payment_method':
      return intent.lastErrorCode ? 'failed' : 'requires_payment_method';
    case 'requires_confirmation':
      return 'requires_confirmation';
    case 'requires_action':
      return 'requires_action';
    case 'succeeded':
      return 'succeeded';
    case 'canceled':
      return 'canceled';
    default:
      // requires_capture (we capture automatically) or a status newer than this code: not final.
      return 'processing';
  }
}

/** The PaymentGateway over the real Stripe SDK (or the fake Stripe, through STRIPE_API_BASE). */
export class StripePaymentGateway implements PaymentGateway {
  constructor(private readonly client: () => Promise<Stripe> = getStripe) {}

  async createIntent(input: CreateIntentInput, key?: string): Promise<CreateResult> {
    const stripe = await this.client();
    try {
      const intent = await stripe.paymentIntents.create(
        {
          amount: input.amountCents,
          currency: input.currency.toLowerCase(),
          // Confirmed server-side with the customer's PaymentMethod: no redirect-based methods, so no
          // return_url; 3-D Secure is completed client-side with the clientSecret.
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          metadata: { orderId: input.orderId, tenantId: input.tenantId },
        },
        { idempotencyKey: key ?? idempotencyKey(input.orderId, 'create') },
      );
      return { kind: 'created', intent: view(intent) };
    } catch (error) {
      const failure = classifyStripeError(error);
      if (failure.kind === 'transient') throw transient(failure, 'create');
      return { kind: 'rejected', code: failure.code };
    }
  }

  async confirmIntent(
    orderId: string,
    intentId: string,
    paymentMethodId: string,
    key?: string,
  ): Promise<ConfirmResult> {
    const stripe = await this.client();
    try {
      const intent = view(
        await stripe.paymentIntents.confirm(
          intentId,
          { payment_method: paymentMethodId },
          { idempotencyKey: key ?? idempotencyKey(orderId, 'confirm') },
        ),
      );
      if (intent.status === 'succeeded') return { kind: 'succeeded', intent };
      if (intent.status === 'requires_action') return { kind: 'requires_action', intent };
      if (intent.status === 'processing' || intent.status === 'requires_capture')
        return { kind: 'processing', intent };
      return { kind: 'declined', code: intent.lastErrorCode ?? intent.status };
    } catch (error) {
      const failure = classifyStripeError(error);
      if (failure.kind === 'transient') throw transient(failure, 'confirm');
      return failure.kind === 'declined'
        ? { kind: 'declined', code: failure.code }
        : { kind: 'rejected', code: failure.code };
    }
  }

  async cancelIntent(orderId: string, intentId: string, key?: string): Promise<IntentView> {
    const stripe = await this.client();
    try {
      return view(
        await stripe.paymentIntents.cancel(
          intentId,
          {},
          { idempotencyKey: key ?? idempotencyKey(orderId, 'cancel') },
        ),
      );
    } catch (error) {
      const failure = classifyStripeError(error);
      if (failure.kind === 'transient') throw transient(failure, 'cancel');
      // payment_intent_unexpected_state: it already succeeded or was cancelled — report where it is.
      return this.retrieveIntent(intentId);
    }
  }

  async retrieveIntent(intentId: string): Promise<IntentView> {
    const stripe = await this.client();
    try {
      return view(await stripe.paymentIntents.retrieve(intentId));
    } catch (error) {
      throw transient(classifyStripeError(error), 'retrieve');
    }
  }

  async refundedAmount(intentId: string): Promise<number> {
    const stripe = await this.client();
    try {
      let total = 0;
      for await (const refund of stripe.refunds.list({ payment_intent: intentId, limit: 100 })) {
        if (refund.status !== 'failed' && refund.status !== 'canceled') total += refund.amount;
      }
      return total;
    } catch (error) {
      throw transient(classifyStripeError(error), 'list refunds');
    }
  }

  async createRefund(intentId: string, amount: number, refundId: string, key: string): Promise<RefundResult> {
    const stripe = await this.client();
    try {
      const refund = await stripe.refunds.create(
        { payment_intent: intentId, amount, metadata: { refundId } },
        { idempotencyKey: key },
      );
      return { kind: 'created', refund: refundView(refund) };
    } catch (error) {
      const failure = classifyStripeError(error);
      if (failure.kind === 'transient') throw transient(failure, 'refund');
      return { kind: 'rejected', code: failure.code };
    }
  }

  async listRefunds(intentId: string): Promise<RefundView[]> {
    const stripe = await this.client();
    try {
      const out: RefundView[] = [];
      for await (const refund of stripe.refunds.list({ payment_intent: intentId, limit: 100 })) {
        out.push(refundView(refund));
      }
      return out;
    } catch (error) {
      throw transient(classifyStripeError(error), 'list refunds');
    }
  }

  async refundIntent(
    orderId: string,
    intentId: string,
    options: { amount?: number; key?: string } = {},
  ): Promise<boolean> {
    const stripe = await this.client();
    try {
      await stripe.refunds.create(
        {
          payment_intent: intentId,
          ...(options.amount !== undefined ? { amount: options.amount } : {}),
          // Marks it as ours for whoever books Stripe's refund list (recordStripeRefunds). A request
          // under a key first used without it (a deploy mid-retry) is a 400 idempotency_error, which
          // is transient here: the caller lists the refunds and uses a fresh key only if still needed.
          metadata: { origin: BACKSTOP_REFUND_ORIGIN, orderId },
        },
        { idempotencyKey: options.key ?? idempotencyKey(orderId, 'refund') },
      );
      return true;
    } catch (error) {
      const failure = classifyStripeError(error);
      // charge_already_refunded: the earlier attempt went through.
      if (failure.kind === 'rejected' && failure.code === 'charge_already_refunded') return false;
      throw transient(failure, 'refund');
    }
  }
}

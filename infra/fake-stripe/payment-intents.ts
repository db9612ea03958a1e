// In-memory PaymentIntents, Charges and Refunds with Stripe's state machine:
//
//   requires_payment_method ──(payment_method)──▶ requires_confirmation ──confirm──▶ succeeded
//         ▲   ▲                                          │                     └──▶ requires_capture ─capture─▶ succeeded
//         │   └──────── decline (402 card_error) ◀──────┤
//         │                                              ├──▶ requires_action ──3DS passed──▶ succeeded
//         ├──────────────────── 3DS failed ◀─────────────┘
//         └──────────────────── settled: failed ◀── processing ──settled: ok──▶ succeeded
//   any non-final state but processing ──cancel──▶ canceled
// A failure is not final: the intent is back in requires_payment_method and the customer may confirm it
// again (customerConfirm, the client-secret path) until it succeeds or is canceled.
//
// Every transition emits the event Stripe would (payment_intent.*, charge.*, refund.created) through the
// `emit` callback; the server turns those into signed webhook deliveries. All operations are synchronous,
// so one request's transition is atomic with respect to every other request.
import { newId, randomToken, unixNow } from './ids.js';
import {
  invalidParam,
  missingParam,
  noSuchResource,
  StripeApiError,
  unexpectedState,
  type StripeErrorBody,
} from './errors.js';
import { mergeMetadata, Params } from './form.js';
import {
  AUTHENTICATION_FAILED,
  AUTHENTICATION_REQUIRED,
  lookupTestCard,
  type Decline,
  type TestCard,
} from './test-cards.js';
import type { Charge, Dispute, EventObject, LastPaymentError, PaymentIntent, Refund } from './types.js';

const GENERIC_DECLINE: Decline = {
  code: 'card_declined',
  declineCode: 'generic_decline',
  message: 'Your card was declined.',
};

export interface RequestContext {
  requestId: string | null;
  idempotencyKey: string | null;
  /** Where the fake listens; used for the 3-D Secure page URL in next_action. */
  baseUrl: string;
}

export type EmitFn = (type: string, object: EventObject, ctx: RequestContext) => void;

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

const CONFIRMABLE = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
// Stripe allows cancelling `processing` only "in rare cases" (docs.stripe.com/api/payment_intents/cancel);
// code that depends on it is wrong, so the fake always refuses.
const CANCELABLE = [
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
];
const CAPTURE_METHODS = ['automatic', 'automatic_async', 'manual'];
const CANCELLATION_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'];
const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'];
// Stripe's minimum charge is about 50 cents in the major two-decimal currencies.
const MIN_50 = new Set(['usd', 'eur', 'gbp', 'cad', 'aud', 'chf', 'nzd', 'sgd']);
const MAX_AMOUNT = 99_999_999;

const clone = <T>(v: T): T => structuredClone(v);

export class PaymentStore {
  private readonly intents = new Map<string, PaymentIntent>();
  private readonly charges = new Map<string, Charge>();
  private readonly refunds = new Map<string, Refund>();
  /** Card behind each intent waiting in requires_action, so 3-D Secure completion knows what follows. */
  private readonly pendingAuth = new Map<string, TestCard>();
  /** Card behind each intent in processing, and its automatic settlement timer (if any). */
  private readonly processing = new Map<string, { card: TestCard; timer: NodeJS.Timeout | null }>();
  private readonly disputes = new Map<string, Dispute>();

  constructor(
    private readonly emit: EmitFn,
    private readonly processingSettleMs: () => number = () => 0,
  ) {}

  reset(): void {
    this.intents.clear();
    this.charges.clear();
    this.refunds.clear();
    this.pendingAuth.clear();
    for (const { timer } of this.processing.values()) if (timer) clearTimeout(timer);
    this.processing.clear();
    this.disputes.clear();
  }

  allIntents(): PaymentIntent[] {
    return [...this.intents.values()].map(clone);
  }

  // ---- PaymentIntents -------------------------------------------------------------------------------------

  create(p: Params, ctx: RequestContext): PaymentIntent {
    const amount = p.integer('amount');
    if (amount === undefined) throw missingParam('amount');
    const currency = (p.string('currency') ?? '').toLowerCase();
    if (!currency) throw missingParam('currency');
    validateAmount(amount, currency);

    const paymentMethod = p.string('payment_method') ?? null;
    if (paymentMethod !== null) requireCard(paymentMethod);
    const confirm = p.boolean('confirm') ?? false;
    const captureMethod = p.string('capture_method') ?? 'automatic';
    if (!CAPTURE_METHODS.includes(captureMethod)) {
      throw invalidParam(
        'capture_method',
        `Invalid capture_method: must be one of ${CAPTURE_METHODS.join(', ')}`,
      );
    }
    if (!confirm) {
      for (const name of ['return_url', 'off_session', 'error_on_requires_action']) {
        if (p.has(name)) throw invalidParam(name, `You can only pass ${name} when confirm=true.`);
      }
    }
    if (confirm && paymentMethod === null) {
      throw invalidParam(
        'payment_method',
        "You cannot confirm this PaymentIntent because it's missing a payment method.",
        'parameter_missing',
      );
    }
    const apm = p.object('automatic_payment_methods');
    const id = newId('pi');
    const pi: PaymentIntent = {
      id,
      object: 'payment_intent',
      allowed_payment_method_types: null,
      amount,
      amount_capturable: 0,
      amount_received: 0,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: apm
        ? {
            enabled: apm.boolean('enabled') ?? false,
            allow_redirects: (apm.string('allow_redirects') ?? 'always') as 'always' | 'never',
          }
        : null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: captureMethod,
      client_secret: `${id}_secret_${randomToken(25)}`,
      confirmation_method: p.string('confirmation_method') ?? 'automatic',
      created: unixNow(),
      currency,
      customer: p.optionalString('customer') ?? null,
      customer_account: null,
      description: p.optionalString('description') ?? null,
      excluded_payment_method_types: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      managed_payments: null,
      metadata: mergeMetadata({}, p.metadata()),
      next_action: null,
      on_behalf_of: null,
      payment_method: paymentMethod,
      payment_method_configuration_details: null,
      payment_method_options: {
        card: {
          installments: null,
          mandate_options: null,
          network: null,
          request_three_d_secure: 'automatic',
        },
      },
      payment_method_types: p.stringList('payment_method_types') ?? ['card'],
      payment_record: null,
      processing: null,
      receipt_email: p.optionalString('receipt_email') ?? null,
      review: null,
      setup_future_usage: (p.optionalString('setup_future_usage') ??
        null) as PaymentIntent['setup_future_usage'],
      shipping: null,
      source: null,
      statement_descriptor: p.optionalString('statement_descriptor') ?? null,
      statement_descriptor_suffix: p.optionalString('statement_descriptor_suffix') ?? null,
      status: paymentMethod === null ? 'requires_payment_method' : 'requires_confirmation',
      transfer_data: null,
      transfer_group: p.optionalString('transfer_group') ?? null,
    };
    this.intents.set(id, pi);
    this.emit('payment_intent.created', clone(pi), ctx);
    if (confirm) this.attempt(pi, paymentMethod!, confirmOptions(p), ctx);
    return this.render(pi, p);
  }

  retrieve(id: string, p: Params): PaymentIntent {
    return this.render(this.intent(id), p);
  }

  update(id: string, p: Params): PaymentIntent {
    const pi = this.intent(id);
    const final = pi.status === 'succeeded' || pi.status === 'canceled';
    const moneyParams = ['amount', 'currency', 'payment_method', 'capture_method'].filter((n) => p.has(n));
    if (final && moneyParams.length > 0) {
      throw unexpectedState(
        `You cannot update ${moneyParams.join(', ')} of this PaymentIntent because it has a status of ${pi.status}.`,
      );
    }
    const currency = p.string('currency')?.toLowerCase() ?? pi.currency;
    const amount = p.integer('amount') ?? pi.amount;
    validateAmount(amount, currency);
    const pm = p.optionalString('payment_method');
    if (pm) requireCard(pm);
    const captureMethod = p.string('capture_method');
    if (captureMethod !== undefined && !CAPTURE_METHODS.includes(captureMethod)) {
      throw invalidParam(
        'capture_method',
        `Invalid capture_method: must be one of ${CAPTURE_METHODS.join(', ')}`,
      );
    }
    pi.amount = amount;
    pi.currency = currency;
    if (captureMethod !== undefined) pi.capture_method = captureMethod;
    pi.metadata = mergeMetadata(pi.metadata, p.metadata());
    if (p.has('description')) pi.description = p.optionalString('description') ?? null;
    if (p.has('receipt_email')) pi.receipt_email = p.optionalString('receipt_email') ?? null;
    if (pm !== undefined) {
      pi.payment_method = pm;
      if (pi.status === 'requires_payment_method' || pi.status === 'requires_confirmation') {
        pi.status = pm === null ? 'requires_payment_method' : 'requires_confirmation';
      }
    }
    return this.render(pi, p);
  }

  confirm(id: string, p: Params, ctx: RequestContext): PaymentIntent {
    const pi = this.intent(id);
    if (!CONFIRMABLE.includes(pi.status)) {
      throw unexpectedState(
        pi.status === 'succeeded'
          ? 'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.'
          : `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE.join(', ')}.`,
        { payment_intent: clone(pi) },
      );
    }
    const paymentMethod =
      p.string('payment_method') ?? (typeof pi.payment_method === 'string' ? pi.payment_method : null);
    if (paymentMethod === null) {
      throw unexpectedState(
        "You cannot confirm this PaymentIntent because it's missing a payment method. Update the PaymentIntent with a payment method and then confirm it again.",
        { payment_intent: clone(pi) },
      );
    }
    requireCard(paymentMethod);
    const captureMethod = p.string('capture_method');
    if (captureMethod !== undefined) {
      if (!CAPTURE_METHODS.includes(captureMethod))
        throw invalidParam('capture_method', 'Invalid capture_method');
      pi.capture_method = captureMethod;
    }
    this.attempt(pi, paymentMethod, confirmOptions(p), ctx);
    return this.render(pi, p);
  }

  cancel(id: string, p: Params, ctx: RequestContext): PaymentIntent {
    const pi = this.intent(id);
    const reason = p.string('cancellation_reason') ?? null;
    if (reason !== null && !CANCELLATION_REASONS.includes(reason)) {
      throw invalidParam(
        'cancellation_reason',
        `Invalid cancellation_reason: must be one of ${CANCELLATION_REASONS.join(', ')}`,
      );
    }
    if (!CANCELABLE.includes(pi.status)) {
      throw unexpectedState(
        `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`,
        { payment_intent: clone(pi) },
      );
    }
    if (pi.status === 'requires_capture' && typeof pi.latest_charge === 'string') {
      // Canceling an authorized intent releases the hold: the uncaptured charge counts as fully refunded.
      const ch = this.charges.get(pi.latest_charge);
      if (ch) Object.assign(ch, { refunded: true, amount_refunded: ch.amount });
    }
    pi.status = 'canceled';
    pi.canceled_at = unixNow();
    pi.cancellation_reason = reason;
    pi.next_action = null;
    pi.amount_capturable = 0;
    this.pendingAuth.delete(pi.id);
    this.emit('payment_intent.canceled', clone(pi), ctx);
    return this.render(pi, p);
  }

  capture(id: string, p: Params, ctx: RequestContext): PaymentIntent {
    const pi = this.intent(id);
    if (pi.status !== 'requires_capture') {
      throw unexpectedState(
        `This PaymentIntent could not be captured because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
        { payment_intent: clone(pi) },
      );
    }
    const amount = p.integer('amount_to_capture') ?? pi.amount_capturable;
    if (amount < 1 || amount > pi.amount_capturable) {
      throw invalidParam(
        'amount_to_capture',
        `amount_to_capture must be between 1 and ${pi.amount_capturable}.`,
      );
    }
    const ch = this.charges.get(pi.latest_charge as string)!;
    ch.captured = true;
    ch.amount_captured = amount;
    pi.status = 'succeeded';
    pi.amount_received = amount;
    pi.amount_capturable = 0;
    pi.metadata = mergeMetadata(pi.metadata, p.metadata());
    this.emit('charge.captured', clone(ch), ctx);
    this.emit('payment_intent.succeeded', clone(pi), ctx);
    return this.render(pi, p);
  }

  /** Test helper: the customer passed ('succeed') or failed ('fail') the 3-D Secure challenge. */
  completeAuthentication(id: string, outcome: 'succeed' | 'fail', ctx: RequestContext): PaymentIntent {
    const pi = this.intent(id);
    const card = this.pendingAuth.get(id);
    if (pi.status !== 'requires_action' || !card || card.outcome.kind !== 'authenticate') {
      throw unexpectedState(`PaymentIntent ${id} is not waiting for authentication (status ${pi.status}).`);
    }
    this.pendingAuth.delete(id);
    pi.next_action = null;
    if (outcome === 'fail') {
      this.fail(pi, AUTHENTICATION_FAILED, null, ctx);
    } else if (card.outcome.afterAuth.kind === 'succeed') {
      this.succeed(pi, card, ctx);
    } else {
      this.fail(pi, card.outcome.afterAuth.decline, card, ctx);
    }
    return clone(pi);
  }

  /** Test helper: an asynchronous payment settles ('succeed' → succeeded, 'fail' → requires_payment_method). */
  settleProcessing(id: string, outcome: 'succeed' | 'fail', ctx: RequestContext): PaymentIntent {
    const pi = this.intent(id);
    const pending = this.processing.get(id);
    if (pi.status !== 'processing' || !pending) {
      throw unexpectedState(`PaymentIntent ${id} is not processing (status ${pi.status}).`);
    }
    if (pending.timer) clearTimeout(pending.timer);
    this.processing.delete(id);
    const { card } = pending;
    const after =
      card.outcome.kind === 'processing' ? card.outcome.afterSettle : { kind: 'succeed' as const };
    if (outcome === 'succeed') this.succeed(pi, card, ctx);
    else this.fail(pi, after.kind === 'decline' ? after.decline : GENERIC_DECLINE, card, ctx);
    return clone(pi);
  }

  /**
   * Test helper: the customer confirms with the client secret (Stripe.js), possibly with another card after
   * a decline. A decline leaves the intent in requires_payment_method, as any confirmation does.
   */
  customerConfirm(id: string, paymentMethod: string, ctx: RequestContext): PaymentIntent {
    const pi = this.intent(id);
    if (!CONFIRMABLE.includes(pi.status)) {
      throw unexpectedState(`You cannot confirm this PaymentIntent because it has a status of ${pi.status}.`);
    }
    try {
      this.attempt(
        pi,
        paymentMethod,
        { returnUrl: null, offSession: false, errorOnRequiresAction: false },
        ctx,
      );
    } catch (e) {
      if (!(e instanceof StripeApiError) || e.status !== 402) throw e;
    }
    return clone(pi);
  }

  list(p: Params): ListPage<PaymentIntent> {
    let items = [...this.intents.values()].reverse(); // newest first, like Stripe
    const customer = p.string('customer');
    if (customer !== undefined) items = items.filter((pi) => pi.customer === customer);
    // A list expands its items' fields under `data.` (docs.stripe.com/expand, "Expanding responses in
    // lists"): `expand[]=data.latest_charge`.
    const expand = (p.stringList('expand') ?? [])
      .filter((e) => e.startsWith('data.'))
      .map((e) => e.slice('data.'.length));
    return paginate(items, p, '/v1/payment_intents', (pi) => this.expanded(pi, expand));
  }

  // ---- Charges and refunds --------------------------------------------------------------------------------

  retrieveCharge(id: string): Charge {
    const ch = this.charges.get(id);
    if (!ch) throw noSuchResource('charge', id);
    return clone(ch);
  }

  retrieveRefund(id: string): Refund {
    const re = this.refunds.get(id);
    if (!re) throw noSuchResource('refund', id);
    return clone(re);
  }

  listRefunds(p: Params): ListPage<Refund> {
    let items = [...this.refunds.values()].reverse();
    const pi = p.string('payment_intent');
    if (pi !== undefined) items = items.filter((re) => re.payment_intent === pi);
    const charge = p.string('charge');
    if (charge !== undefined) items = items.filter((re) => re.charge === charge);
    return paginate(items, p, '/v1/refunds', clone);
  }

  /** Test helper: the cardholder disputes the intent's charge. */
  openDispute(piId: string, reason: string, ctx: RequestContext): Dispute {
    const pi = this.intent(piId);
    const ch = typeof pi.latest_charge === 'string' ? this.charges.get(pi.latest_charge) : undefined;
    if (!ch || ch.status !== 'succeeded' || !ch.captured) {
      throw unexpectedState(`PaymentIntent ${piId} has no captured charge to dispute.`);
    }
    const dispute: Dispute = {
      id: newId('dp'),
      object: 'dispute',
      amount: ch.amount_captured - ch.amount_refunded,
      charge: ch.id,
      created: unixNow(),
      currency: ch.currency,
      livemode: false,
      metadata: {},
      payment_intent: pi.id,
      reason,
      status: 'needs_response',
    };
    ch.disputed = true;
    this.disputes.set(dispute.id, dispute);
    this.emit('charge.dispute.created', clone(dispute), ctx);
    return clone(dispute);
  }

  /** Test helper: the dispute is decided. */
  closeDispute(id: string, outcome: 'won' | 'lost', ctx: RequestContext): Dispute {
    const dispute = this.disputes.get(id);
    if (!dispute) throw noSuchResource('dispute', id);
    if (dispute.status !== 'needs_response') throw unexpectedState(`Dispute ${id} is already closed.`);
    dispute.status = outcome;
    this.emit('charge.dispute.closed', clone(dispute), ctx);
    return clone(dispute);
  }

  /** Test helper: a refund made in the Dashboard, outside the app (no API request of ours). */
  dashboardRefund(piId: string, amount: number | undefined, ctx: RequestContext): Refund {
    const form: Record<string, string> = { payment_intent: piId };
    if (amount !== undefined) form.amount = String(amount);
    return this.createRefund(new Params(form), ctx);
  }

  createRefund(p: Params, ctx: RequestContext): Refund {
    const piId = p.string('payment_intent');
    const chargeId = p.string('charge');
    let ch: Charge | undefined;
    let pi: PaymentIntent | undefined;
    if (piId !== undefined) {
      pi = this.intents.get(piId);
      if (!pi) throw noSuchResource('payment_intent', piId, 'payment_intent');
      if (pi.status !== 'succeeded' || typeof pi.latest_charge !== 'string') {
        throw unexpectedState(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, {
          code: 'charge_not_refundable',
        });
      }
      ch = this.charges.get(pi.latest_charge);
    } else if (chargeId !== undefined) {
      ch = this.charges.get(chargeId);
      if (!ch) throw noSuchResource('charge', chargeId, 'charge');
      pi = typeof ch.payment_intent === 'string' ? this.intents.get(ch.payment_intent) : undefined;
    } else {
      throw missingParam('payment_intent');
    }
    if (!ch || ch.status !== 'succeeded' || !ch.captured) {
      throw unexpectedState('This charge cannot be refunded.', { code: 'charge_not_refundable' });
    }
    const remaining = ch.amount_captured - ch.amount_refunded;
    if (remaining <= 0) {
      throw unexpectedState(`Charge ${ch.id} has already been refunded.`, {
        code: 'charge_already_refunded',
      });
    }
    const amount = p.integer('amount') ?? remaining;
    if (amount < 1) throw invalidParam('amount', 'Refund amount must be positive.');
    if (amount > remaining) {
      throw invalidParam(
        'amount',
        `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`,
        'amount_too_large',
      );
    }
    const reason = p.string('reason') ?? null;
    if (reason !== null && !REFUND_REASONS.includes(reason)) {
      throw invalidParam('reason', `Invalid reason: must be one of ${REFUND_REASONS.join(', ')}`);
    }
    const refund: Refund = {
      id: newId('re'),
      object: 'refund',
      amount,
      balance_transaction: newId('txn'),
      charge: ch.id,
      created: unixNow(),
      currency: ch.currency,
      customer: null,
      customer_account: null,
      metadata: mergeMetadata({}, p.metadata()),
      payment_intent: pi?.id ?? null,
      payment_method: ch.payment_method,
      reason: reason as Refund['reason'],
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'succeeded',
      transfer_reversal: null,
    };
    this.refunds.set(refund.id, refund);
    ch.amount_refunded += amount;
    ch.refunded = ch.amount_refunded >= ch.amount_captured;
    this.emit('refund.created', clone(refund), ctx);
    this.emit('charge.refunded', clone(ch), ctx);
    return clone(refund);
  }

  // ---- internals ------------------------------------------------------------------------------------------

  private intent(id: string): PaymentIntent {
    const pi = this.intents.get(id);
    if (!pi) throw noSuchResource('payment_intent', id, 'intent');
    return pi;
  }

  /** A response copy, honoring `expand[]=latest_charge`. */
  private render(pi: PaymentIntent, p: Params): PaymentIntent {
    return this.expanded(pi, p.stringList('expand') ?? []);
  }

  private expanded(pi: PaymentIntent, expand: readonly string[]): PaymentIntent {
    const out = clone(pi);
    if (expand.includes('latest_charge') && typeof pi.latest_charge === 'string') {
      const ch = this.charges.get(pi.latest_charge);
      // The subset Charge is what the fake has; callers reading only common fields will not notice.
      if (ch) out.latest_charge = clone(ch) as unknown as PaymentIntent['latest_charge'];
    }
    return out;
  }

  /** One confirmation attempt with a test card. Throws the 402 card error on decline (the intent is kept). */
  private attempt(pi: PaymentIntent, paymentMethod: string, opts: ConfirmOptions, ctx: RequestContext): void {
    const card = requireCard(paymentMethod);
    pi.payment_method = paymentMethod;
    pi.last_payment_error = null;
    pi.next_action = null;
    this.pendingAuth.delete(pi.id);
    const outcome = card.outcome;
    if (outcome.kind === 'succeed') {
      this.succeed(pi, card, ctx);
      return;
    }
    if (outcome.kind === 'authenticate' && !opts.offSession && !opts.errorOnRequiresAction) {
      this.requireAction(pi, card, opts.returnUrl, ctx);
      return;
    }
    if (outcome.kind === 'processing') {
      this.startProcessing(pi, card, ctx);
      return;
    }
    const decline = outcome.kind === 'decline' ? outcome.decline : AUTHENTICATION_REQUIRED;
    const body = this.fail(pi, decline, card, ctx);
    throw new StripeApiError(402, body, true);
  }

  private succeed(pi: PaymentIntent, card: TestCard, ctx: RequestContext): void {
    const manual = pi.capture_method === 'manual';
    const ch = this.newCharge(pi, card, null);
    ch.captured = !manual;
    ch.amount_captured = manual ? 0 : pi.amount;
    pi.latest_charge = ch.id;
    pi.last_payment_error = null;
    this.emit('charge.succeeded', clone(ch), ctx);
    if (manual) {
      pi.status = 'requires_capture';
      pi.amount_capturable = pi.amount;
      this.emit('payment_intent.amount_capturable_updated', clone(pi), ctx);
    } else {
      pi.status = 'succeeded';
      pi.amount_received = pi.amount;
      this.emit('payment_intent.succeeded', clone(pi), ctx);
    }
  }

  /**
   * A failed attempt: Stripe puts the intent back to requires_payment_method, detaches the payment method and
   * records last_payment_error. Card declines also leave a failed charge behind. Returns the error body the
   * confirming request answers with.
   */
  private fail(
    pi: PaymentIntent,
    decline: Decline,
    card: TestCard | null,
    ctx: RequestContext,
  ): StripeErrorBody {
    const ch = card ? this.newCharge(pi, card, decline) : null;
    const type = card ? 'card_error' : 'invalid_request_error';
    const error: LastPaymentError = {
      type,
      code: decline.code,
      message: decline.message,
      doc_url: `https://docs.stripe.com/error-codes/${decline.code.replace(/_/g, '-')}`,
      payment_method_type: 'card',
      ...(decline.declineCode ? { decline_code: decline.declineCode } : {}),
      ...(ch ? { charge: ch.id } : {}),
    };
    if (ch) pi.latest_charge = ch.id;
    pi.status = 'requires_payment_method';
    pi.payment_method = null;
    pi.next_action = null;
    pi.last_payment_error = error;
    if (ch) this.emit('charge.failed', clone(ch), ctx);
    this.emit('payment_intent.payment_failed', clone(pi), ctx);
    return { ...error, message: error.message ?? '', payment_intent: clone(pi) };
  }

  private startProcessing(pi: PaymentIntent, card: TestCard, ctx: RequestContext): void {
    pi.status = 'processing';
    const settleMs = this.processingSettleMs();
    const timer =
      settleMs > 0
        ? setTimeout(() => {
            const defaultOutcome =
              card.outcome.kind === 'processing' && card.outcome.afterSettle.kind === 'decline'
                ? 'fail'
                : 'succeed';
            if (this.processing.has(pi.id))
              this.settleProcessing(pi.id, defaultOutcome, { ...ctx, requestId: null });
          }, settleMs)
        : null;
    timer?.unref();
    this.processing.set(pi.id, { card, timer });
    this.emit('payment_intent.processing', clone(pi), ctx);
  }

  private requireAction(
    pi: PaymentIntent,
    card: TestCard,
    returnUrl: string | null,
    ctx: RequestContext,
  ): void {
    const challenge = `${ctx.baseUrl}/_fake/3ds/${pi.id}`;
    pi.status = 'requires_action';
    pi.next_action = returnUrl
      ? { type: 'redirect_to_url', redirect_to_url: { url: challenge, return_url: returnUrl } }
      : {
          type: 'use_stripe_sdk',
          use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: challenge, source: newId('src') },
        };
    this.pendingAuth.set(pi.id, card);
    this.emit('payment_intent.requires_action', clone(pi), ctx);
  }

  private newCharge(pi: PaymentIntent, card: TestCard, decline: Decline | null): Charge {
    const ch: Charge = {
      id: newId('ch'),
      object: 'charge',
      amount: pi.amount,
      amount_captured: 0,
      amount_refunded: 0,
      balance_transaction: decline ? null : newId('txn'),
      captured: false,
      created: unixNow(),
      currency: pi.currency,
      customer: pi.customer,
      description: pi.description,
      disputed: false,
      failure_code: decline?.code ?? null,
      failure_message: decline?.message ?? null,
      livemode: false,
      metadata: { ...pi.metadata },
      outcome: {
        advice_code: null,
        network_advice_code: null,
        network_decline_code: null,
        network_status: decline ? 'declined_by_network' : 'approved_by_network',
        reason: decline ? decline.declineCode || decline.code : null,
        risk_level: 'normal',
        seller_message: decline
          ? 'The bank did not return any further details with this decline.'
          : 'Payment complete.',
        type: decline ? 'issuer_declined' : 'authorized',
      },
      paid: !decline,
      payment_intent: pi.id,
      payment_method: typeof pi.payment_method === 'string' ? pi.payment_method : null,
      payment_method_details: {
        type: 'card',
        card: { brand: card.brand, last4: card.last4, country: card.country },
      },
      receipt_email: pi.receipt_email,
      refunded: false,
      status: decline ? 'failed' : 'succeeded',
    };
    this.charges.set(ch.id, ch);
    return ch;
  }
}

interface ConfirmOptions {
  returnUrl: string | null;
  offSession: boolean;
  errorOnRequiresAction: boolean;
}

function confirmOptions(p: Params): ConfirmOptions {
  // off_session is `true` or the legacy 'one_off' / 'recurring'.
  const off = p.string('off_session');
  return {
    returnUrl: p.optionalString('return_url') ?? null,
    offSession: off !== undefined && off !== 'false',
    errorOnRequiresAction: p.boolean('error_on_requires_action') ?? false,
  };
}

function requireCard(paymentMethod: string): TestCard {
  const card = lookupTestCard(paymentMethod);
  if (!card) throw noSuchResource('PaymentMethod', paymentMethod, 'payment_method');
  return card;
}

function validateAmount(amount: number, currency: string): void {
  if (!/^[a-z]{3}$/.test(currency)) throw invalidParam('currency', `Invalid currency: ${currency}`);
  if (amount < 1)
    throw invalidParam(
      'amount',
      'This value must be greater than or equal to 1.',
      'parameter_invalid_integer',
    );
  if (amount > MAX_AMOUNT)
    throw invalidParam('amount', `Amount must be no more than ${MAX_AMOUNT}`, 'amount_too_large');
  if (MIN_50.has(currency) && amount < 50) {
    throw invalidParam('amount', `Amount must be at least 50 cents (${currency})`, 'amount_too_small');
  }
}

/** Stripe cursor pagination: newest first, `limit` 1..100 (default 10), `starting_after` / `ending_before`. */
export function paginate<T extends { id: string }, R>(
  items: T[],
  p: Params,
  url: string,
  render: (item: T) => R,
): ListPage<R> {
  const limit = p.integer('limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalidParam('limit', 'This value must be between 1 and 100.');
  const after = p.string('starting_after');
  const before = p.string('ending_before');
  let slice: T[];
  let hasMore: boolean;
  if (before !== undefined) {
    const idx = items.findIndex((i) => i.id === before);
    if (idx < 0) throw noSuchResource('object', before, 'ending_before');
    const start = Math.max(0, idx - limit);
    slice = items.slice(start, idx);
    hasMore = start > 0;
  } else {
    let start = 0;
    if (after !== undefined) {
      const idx = items.findIndex((i) => i.id === after);
      if (idx < 0) throw noSuchResource('object', after, 'starting_after');
      start = idx + 1;
    }
    slice = items.slice(start, start + limit);
    hasMore = start + limit < items.length;
  }
  return { object: 'list', data: slice.map(render), has_more: hasMore, url };
}

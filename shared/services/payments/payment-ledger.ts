import type { PaymentStatus } from '../../models/payment.js';
import { PaymentRepository, type PaymentRecord } from '../../repositories/payment-repository.js';
import { AuditOutboxWriter } from '../audit/outbox.js';
import type { DomainContext } from '../context.js';
import { trackEvent } from '../../telemetry/index.js';
import type { IntentView } from './payment-gateway.js';

/** `last_error` of a payment Stripe reports succeeded for another amount or currency than the order's. */
export const AMOUNT_MISMATCH = 'amount_mismatch';

/** Where a payment's status came from; only Stripe's own word may record a success. */
export type StripeSource = 'confirm' | 'retrieve' | 'cancel' | `webhook:${string}`;

/**
 * Writes to `payments`, each with its audit row in the same statement (so each write is atomic even
 * outside a transaction). Payloads hold ids, statuses, amounts and Stripe error codes — never the
 * client secret or anything about the card.
 */
export class PaymentLedger {
  readonly payments: PaymentRepository;
  private readonly audit: AuditOutboxWriter;

  constructor(private readonly ctx: DomainContext) {
    this.payments = new PaymentRepository(ctx);
    this.audit = new AuditOutboxWriter(ctx);
  }

  /** Opens the order's payment; false when it was already open (a re-run), and nothing was written. */
  async open(orderId: string, amountCents: number, currency: string): Promise<boolean> {
    const opened = await this.audit.recordChange(
      this.payments.openStatement(orderId, amountCents, currency),
      {
        entity: 'payment',
        action: 'opened',
        payload: { orderId, status: 'pending', amountCents, currency },
      },
    );
    return opened.length === 1;
  }

  /** Records the PaymentIntent (once) with its current status. */
  async attachIntent(orderId: string, paymentIntentId: string, status: PaymentStatus): Promise<void> {
    await this.audit.recordChange(this.payments.attachStatement(orderId, paymentIntentId, status), {
      entity: 'payment',
      action: 'intent_created',
      payload: { orderId, paymentIntentId, status },
    });
  }

  /**
   * Records that Stripe reports the intent succeeded — from a confirm or retrieve answer, or a signed
   * webhook; nothing else may write `succeeded`. If Stripe's amount or currency differ from the order's,
   * the payment is marked with AMOUNT_MISMATCH (finalize then refunds instead of confirming) and an
   * alert is raised (PaymentAmountMismatch event + error log).
   */
  async recordSucceeded(
    orderId: string,
    intent: IntentView,
    source: StripeSource,
    known?: Pick<PaymentRecord, 'status' | 'amountCents' | 'currency'>,
  ): Promise<boolean> {
    const matches = (payment: Pick<PaymentRecord, 'amountCents' | 'currency'>): boolean =>
      intent.amount === payment.amountCents &&
      intent.currency.toLowerCase() === payment.currency.toLowerCase();
    // The caller read the row just now (the webhook, by intent id) and it is already succeeded for the
    // order's figures — the confirm answer was recorded first, the usual order: nothing can move.
    if (known?.status === 'succeeded' && matches(known)) return false;
    // The usual case in one statement: the payment moves only if Stripe's figures are the order's.
    const only = { amountCents: intent.amount, currency: intent.currency };
    if (await this.advance(orderId, 'succeeded', { source }, only)) return true;
    // Nothing moved: already recorded, or Stripe's amount or currency differ. The row's amount and
    // currency never change once opened, so a row the caller read will do to tell which.
    const payment = known ?? (await this.payments.findByOrder(orderId));
    if (!payment) return false;
    if (matches(payment)) return false;
    trackEvent('PaymentAmountMismatch', {
      tenantId: this.ctx.tenantId,
      orderId,
      paymentIntentId: intent.id,
      expected: `${payment.amountCents} ${payment.currency}`,
      reported: `${intent.amount} ${intent.currency}`,
    });
    this.ctx.log.error(
      `payment for order ${orderId}: Stripe reports ${intent.amount} ${intent.currency} for intent ${intent.id}, ` +
        `the order is ${payment.amountCents} ${payment.currency}; it will be refunded`,
    );
    return this.advance(orderId, 'succeeded', { source, lastError: AMOUNT_MISMATCH });
  }

  /** Forward-only status change; returns whether it moved. */
  async advance(
    orderId: string,
    to: PaymentStatus,
    details: { clientSecret?: string | null; lastError?: string | null; source?: string } = {},
    only?: { amountCents: number; currency: string },
  ): Promise<boolean> {
    const moved = await this.audit.recordChange(this.payments.advanceStatement(orderId, to, details, only), {
      entity: 'payment',
      action: `status:${to}`,
      payload: {
        orderId,
        status: to,
        ...(details.lastError ? { lastError: details.lastError } : {}),
        ...(details.source ? { source: details.source } : {}),
      },
    });
    return moved.length === 1;
  }
}

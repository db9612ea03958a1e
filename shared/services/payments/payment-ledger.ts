import type { PaymentStatus } from '../../models/payment.js';
import { PaymentRepository } from '../../repositories/payment-repository.js';
import { AuditOutboxWriter } from '../audit/outbox.js';
import type { DomainContext } from '../context.js';

/**
 * Writes to `payments`, each with its audit row in the same statement (so each write is atomic even
 * outside a transaction). Payloads hold ids, statuses, amounts and Stripe error codes — never the
 * client secret or anything about the card.
 */
export class PaymentLedger {
  readonly payments: PaymentRepository;
  private readonly audit: AuditOutboxWriter;

  constructor(ctx: DomainContext) {
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

  /** Forward-only status change; returns whether it moved. */
  async advance(
    orderId: string,
    to: PaymentStatus,
    details: { clientSecret?: string | null; lastError?: string | null; source?: string } = {},
  ): Promise<boolean> {
    const moved = await this.audit.recordChange(this.payments.advanceStatement(orderId, to, details), {
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

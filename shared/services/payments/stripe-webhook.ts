import type { EntityManager } from '@mikro-orm/postgresql';
import Stripe from 'stripe';
import { BadRequestException } from '../../errors/index.js';
import type { Logger } from '../../logging/logger.js';
import type { PaymentStatus } from '../../models/payment.js';
import { findPaymentByIntentId, type PaymentRecord } from '../../repositories/payment-repository.js';
import { getSecret, getSecretProvider } from '../../secrets/provider.js';
import { isUuid } from '../../utils/ids.js';
import type { PaymentUpdate } from '../checkout/checkout-types.js';
import type { DomainContext } from '../context.js';
import { RefundRepository } from '../../repositories/refund-repository.js';
import { trackEvent } from '../../telemetry/index.js';
import { recordStripeRefunds } from '../orders/refund-service.js';
import { intentViewOf, StripePaymentGateway, type PaymentGateway } from './payment-gateway.js';
import { PaymentLedger } from './payment-ledger.js';

/** Stripe's recommended tolerance: a signed payload older than 5 minutes is a replay. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;
/** After a failed check, re-read the secret (it may have rotated) at most this often. */
const SECRET_REFRESH_INTERVAL_MS = 60_000;
let lastSecretRefresh = 0;

function check(rawBody: Buffer, signature: string, secret: string): Stripe.Event {
  return assertEventShape(
    Stripe.webhooks.constructEvent(rawBody, signature, secret, WEBHOOK_TOLERANCE_SECONDS),
  );
}

/** An object with a string `id`. */
function hasId(value: unknown): value is { id: string } {
  return typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string';
}

/**
 * A valid signature says who sent the bytes, not that they are the event shape we read: anything
 * without an id, a type and a `data.object` with an id is refused with a 400 instead of crashing later.
 */
function assertEventShape(event: Stripe.Event): Stripe.Event {
  const candidate = event as unknown as { id?: unknown; type?: unknown; data?: { object?: unknown } | null };
  if (
    typeof candidate.id !== 'string' ||
    typeof candidate.type !== 'string' ||
    !hasId(candidate.data?.object)
  ) {
    throw new MalformedStripeEvent();
  }
  return event;
}

class MalformedStripeEvent extends BadRequestException {
  constructor() {
    super('The Stripe event is not well-formed.');
  }
}

/**
 * Verifies the Stripe-Signature header over the exact raw bytes. A missing, forged or stale signature
 * is a 400 and nothing else happens. If the check fails, the secret is re-read once a minute at most
 * (a rotated secret is picked up without a restart, and forged requests cannot hammer Key Vault).
 */
export async function verifyStripeEvent(rawBody: Buffer, signature: string | null): Promise<Stripe.Event> {
  if (!signature) throw new BadRequestException('Missing Stripe-Signature header.');
  const secret = await getSecret('STRIPE_WEBHOOK_SECRET');
  try {
    return check(rawBody, signature, secret);
  } catch (error) {
    if (error instanceof MalformedStripeEvent) throw error;
    const now = Date.now();
    if (
      error instanceof Stripe.errors.StripeSignatureVerificationError &&
      now - lastSecretRefresh > SECRET_REFRESH_INTERVAL_MS
    ) {
      lastSecretRefresh = now;
      getSecretProvider().invalidate('STRIPE_WEBHOOK_SECRET');
      const fresh = await getSecret('STRIPE_WEBHOOK_SECRET');
      if (fresh !== secret) {
        try {
          return check(rawBody, signature, fresh);
        } catch {
          // Fall through to the 400.
        }
      }
    }
    throw new BadRequestException('Invalid Stripe signature.');
  }
}

export type WebhookOutcome =
  | { kind: 'duplicate' }
  | { kind: 'ignored'; why: string }
  | { kind: 'processed'; orderId: string; tenantId: string; moved: boolean; notify?: PaymentUpdate };

const NOTIFY: readonly PaymentStatus[] = ['succeeded', 'failed', 'canceled'];

interface IntentRef {
  intentId: string;
  orderId?: string;
  tenantId?: string;
}

function metadataRef(intentId: string, metadata: Stripe.Metadata | null | undefined): IntentRef {
  const orderId = metadata?.orderId;
  const tenantId = metadata?.tenantId;
  return {
    intentId,
    ...(orderId && isUuid(orderId) ? { orderId } : {}),
    ...(tenantId && isUuid(tenantId) ? { tenantId } : {}),
  };
}

/**
 * Whether the app acts on events of this type at all. Stripe sends an endpoint every type it subscribes
 * to (with `*`, every event of the account: payment_intent.created, charge.succeeded, …); the others
 * are acknowledged without a transaction, since an event that changes nothing needs no memory of it.
 */
export function isHandledEvent(event: Stripe.Event): boolean {
  return intentOf(event) !== undefined;
}

/** The PaymentIntent an event is about, if it is one we handle. */
function intentOf(event: Stripe.Event): IntentRef | undefined {
  switch (event.type) {
    case 'payment_intent.succeeded':
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled':
    case 'payment_intent.requires_action':
    case 'payment_intent.processing':
      return metadataRef(event.data.object.id, event.data.object.metadata);
    case 'charge.refunded': {
      const charge = event.data.object;
      const pi =
        typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
      return pi ? metadataRef(pi, charge.metadata) : undefined;
    }
    case 'charge.dispute.created':
    case 'charge.dispute.closed': {
      const dispute = event.data.object;
      const pi =
        typeof dispute.payment_intent === 'string' ? dispute.payment_intent : dispute.payment_intent?.id;
      return pi ? metadataRef(pi, dispute.metadata) : undefined;
    }
    default:
      return undefined;
  }
}

/** The payment status an event reports, with the details we keep (no card data). */
function statusOf(
  event: Stripe.Event,
): { status: PaymentStatus; clientSecret?: string | null; lastError?: string } | undefined {
  switch (event.type) {
    case 'payment_intent.succeeded':
      return { status: 'succeeded' };
    case 'payment_intent.payment_failed': {
      const error = event.data.object.last_payment_error;
      return { status: 'failed', lastError: error?.decline_code ?? error?.code ?? 'payment_failed' };
    }
    case 'payment_intent.canceled':
      return { status: 'canceled' };
    case 'payment_intent.requires_action':
      return { status: 'requires_action', clientSecret: event.data.object.client_secret };
    case 'payment_intent.processing':
      return { status: 'processing' };
    case 'charge.refunded':
      // A partial refund leaves the payment succeeded; the event id is still recorded (and audited).
      return event.data.object.refunded ? { status: 'refunded' } : undefined;
    default:
      return undefined;
  }
}

/**
 * Applies a verified Stripe event, in the request's transaction:
 * 1. find the payment by PaymentIntent id (falling back to the order named in the intent's metadata);
 * 2. record the event id under its primary key — a repeat inserts nothing and is acknowledged, ignored;
 * 3. move the payment status forward only (ranked), so late or reordered events change nothing.
 * A payment outcome that actually moved the status is returned for the caller to raise to the order's
 * orchestration after the commit.
 */
export class StripeWebhookService {
  constructor(
    private readonly em: EntityManager,
    private readonly log: Logger,
    private readonly correlationId: string,
    private readonly gateway: () => PaymentGateway = () => new StripePaymentGateway(),
  ) {}

  async handle(event: Stripe.Event): Promise<WebhookOutcome> {
    const ref = intentOf(event);
    const payment = ref ? await this.findPayment(ref) : undefined;
    if (!ref || !payment) {
      // Not an event we act on, or an intent this platform did not create: acknowledge, remember, skip.
      return (await this.remember(event, null, ref?.intentId ?? null))
        ? { kind: 'ignored', why: ref ? 'unknown payment intent' : `unhandled type ${event.type}` }
        : { kind: 'duplicate' };
    }
    const ctx: DomainContext = {
      em: this.em,
      tenantId: payment.tenantId,
      log: this.log,
      correlationId: this.correlationId,
    };
    if (!(await this.remember(event, payment.tenantId, ref.intentId))) return { kind: 'duplicate' };

    if (event.type === 'charge.dispute.created' || event.type === 'charge.dispute.closed') {
      return this.disputed(ctx, payment, event.data.object);
    }
    const ledger = new PaymentLedger(ctx);
    if (!payment.paymentIntentId) await ledger.attachIntent(payment.orderId, ref.intentId, 'pending');
    const change = statusOf(event);
    const moved = !change
      ? false
      : event.type === 'payment_intent.succeeded'
        ? // A signed event is Stripe's word: recorded with its amount and currency checked.
          await ledger.recordSucceeded(
            payment.orderId,
            intentViewOf(event.data.object),
            `webhook:${event.type}`,
            payment,
          )
        : await ledger.advance(payment.orderId, change.status, {
            ...(change.clientSecret !== undefined ? { clientSecret: change.clientSecret } : {}),
            ...(change.lastError ? { lastError: change.lastError } : {}),
            source: `webhook:${event.type}`,
          });
    if (event.type === 'charge.refunded') {
      // The event carries the charge, not the refund ("listen to refund.created for information about
      // the refund": docs.stripe.com/changelog/acacia/2024-10-28/refund-webhook-update), so Stripe's
      // list is the record (our own refunds carry our id in their metadata; the rest were made in the
      // dashboard). A later refund.created subscription could save this call.
      await recordStripeRefunds(ctx, payment.orderId, await this.gateway().listRefunds(ref.intentId));
    }
    const notify =
      moved && change && NOTIFY.includes(change.status)
        ? { status: change.status as PaymentUpdate['status'] }
        : undefined;
    return {
      kind: 'processed',
      orderId: payment.orderId,
      tenantId: payment.tenantId,
      moved,
      ...(notify ? { notify } : {}),
    };
  }

  /**
   * A chargeback (docs.stripe.com/disputes): the payment is marked disputed once, and someone must
   * answer it before Stripe's deadline — hence the `PaymentDisputed` event the alert in
   * bicep/modules/alerts.bicep watches, and an error log. Money moves only when Stripe decides it.
   */
  private async disputed(
    ctx: DomainContext,
    payment: PaymentRecord,
    dispute: Stripe.Dispute,
  ): Promise<WebhookOutcome> {
    const first = await new RefundRepository(ctx).markDisputed(payment.orderId);
    const properties = {
      tenantId: payment.tenantId,
      orderId: payment.orderId,
      disputeId: dispute.id,
      status: dispute.status,
      reason: dispute.reason,
    };
    if (first || dispute.status === 'needs_response') {
      trackEvent('PaymentDisputed', properties);
      this.log.error(`payment of order ${payment.orderId} disputed (${dispute.id}, ${dispute.reason})`);
    } else {
      this.log.warn(`dispute ${dispute.id} of order ${payment.orderId} is ${dispute.status}`);
    }
    return { kind: 'processed', orderId: payment.orderId, tenantId: payment.tenantId, moved: first };
  }

  /** Inserts the event id; false when it was already there (a redelivery). */
  private async remember(
    event: Stripe.Event,
    tenantId: string | null,
    intentId: string | null,
  ): Promise<boolean> {
    const rows = await this.em.execute<{ id: string }[]>(
      `insert into stripe_events (id, tenant_id, type, payment_intent_id) values (?, ?, ?, ?)
       on conflict (id) do nothing returning id`,
      [event.id, tenantId, event.type, intentId],
    );
    return rows.length === 1;
  }

  private async findPayment(ref: IntentRef): Promise<PaymentRecord | undefined> {
    const byIntent = await findPaymentByIntentId(this.em, ref.intentId);
    if (byIntent) {
      if (ref.tenantId && ref.tenantId !== byIntent.tenantId) {
        this.log.warn(`stripe webhook: intent ${ref.intentId} metadata names another tenant; ignored`);
        return undefined;
      }
      return byIntent;
    }
    // The event can beat our own write of the intent id (create answered, then we crashed): the
    // metadata we put on the intent names the order.
    if (!ref.orderId || !ref.tenantId) return undefined;
    const ctx: DomainContext = {
      em: this.em,
      tenantId: ref.tenantId,
      log: this.log,
      correlationId: this.correlationId,
    };
    const byOrder = await new PaymentLedger(ctx).payments.findByOrder(ref.orderId);
    return byOrder && byOrder.paymentIntentId === null ? byOrder : undefined;
  }
}

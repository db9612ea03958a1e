import type Stripe from 'stripe';
import { getSettings } from '../../config/index.js';
import { runUnitOfWork } from '../../db/unit-of-work.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { errorSummary } from '../../logging/error-summary.js';
import type { Logger } from '../../logging/logger.js';
import type { OrderStatus } from '../../models/order.js';
import type { PaymentStatus } from '../../models/payment.js';
import { trackMetric } from '../../telemetry/index.js';
import { TERMINAL_ORDER_STATUSES } from '../orders/order-status.js';
import { cancelOrRefund, refundRemainder } from '../payments/money-rules.js';
import { classifyStripeError, transient } from '../payments/payment-errors.js';
import { getStripe } from '../payments/stripe-client.js';
import { CheckoutSaga } from './checkout-saga.js';
import type { CheckoutInput } from './checkout-types.js';

/**
 * Reconciliation: what Stripe says against what the ledger says, for recent PaymentIntents. The webhook
 * and the orchestration are the normal path; this finds what both missed (a webhook never delivered —
 * Stripe gives up after its retries, docs.stripe.com/webhooks/process-undelivered-events — or an
 * orchestration terminated or failed mid-flight) and ends it with the saga's own steps, so a run is
 * idempotent with the orchestration, the sweeper and another run (finalize and closeOrder take the
 * order's row lock, Stripe's writes carry idempotency keys).
 */

/** One PaymentIntent as Stripe's list shows it (GET /v1/payment_intents). */
export interface ListedIntent {
  id: string;
  status: Stripe.PaymentIntent.Status;
  /** metadata.orderId / metadata.tenantId as createPaymentIntent writes them; absent on others' intents. */
  orderId?: string;
  tenantId?: string;
  amountReceived: number;
  /** From the expanded latest charge; undefined when Stripe did not expand it. */
  amountRefunded?: number;
}

export interface IntentSource {
  /** Intents created at or after `sinceUnix`, newest first, at most `max` (then `truncated`). */
  listRecent(sinceUnix: number, max: number): Promise<{ intents: ListedIntent[]; truncated: boolean }>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE = 100; // Stripe's maximum `limit` (docs.stripe.com/api/pagination)

function listed(intent: Stripe.PaymentIntent): ListedIntent {
  const charge = intent.latest_charge;
  const { orderId, tenantId } = intent.metadata ?? {};
  return {
    id: intent.id,
    status: intent.status,
    ...(orderId ? { orderId } : {}),
    ...(tenantId ? { tenantId } : {}),
    amountReceived: intent.amount_received,
    ...(charge && typeof charge === 'object' ? { amountRefunded: charge.amount_refunded } : {}),
  };
}

/** Stripe's list, paged with `starting_after` (docs.stripe.com/api/payment_intents/list). */
export class StripeIntentSource implements IntentSource {
  constructor(
    private readonly client: () => Promise<Stripe> = getStripe,
    private readonly pageSize = PAGE,
  ) {}

  async listRecent(sinceUnix: number, max: number): Promise<{ intents: ListedIntent[]; truncated: boolean }> {
    const stripe = await this.client();
    const intents: ListedIntent[] = [];
    let after: string | undefined;
    try {
      for (;;) {
        const page = await stripe.paymentIntents.list({
          created: { gte: sinceUnix },
          limit: Math.min(this.pageSize, max - intents.length),
          expand: ['data.latest_charge'],
          ...(after ? { starting_after: after } : {}),
        });
        // created[gte] is Stripe's filter; checked again so a list that ignored it cannot widen the run.
        for (const intent of page.data) if (intent.created >= sinceUnix) intents.push(listed(intent));
        const last = page.data.at(-1);
        if (!page.has_more || !last || last.created < sinceUnix) return { intents, truncated: false };
        if (intents.length >= max) return { intents, truncated: true };
        after = last.id;
      }
    } catch (error) {
      throw transient(classifyStripeError(error), 'list payment intents');
    }
  }
}

export interface ReconcileResult {
  /** Intents read from Stripe's list this run. */
  listed: number;
  /** Succeeded payments whose order was still open: confirmed now. */
  finalized: number;
  /** Succeeded payments whose order could no longer be confirmed (or amount mismatch): refunded. */
  refunded: number;
  /** Open intents past their order's deadline: cancelled (and the order closed). */
  cancelled: number;
  /** Intents Stripe is still settling, past the deadline: the reservation extended, asked again later. */
  processing: number;
  /** Confirmed orders whose payment was refunded outside the app: left to the refund work, counted. */
  refundedOutside: number;
  /** Intents not created by this app for one of its orders: counted and logged, never touched. */
  foreign: number;
  /** Orders whose handling failed (logged; the next run tries again). */
  failed: number;
  /** The run stopped at a bound (intents listed or orders handled): the next run continues. */
  truncated: boolean;
}

export interface ReconcileOptions {
  /** How far back Stripe's list is read (default 3 days: past Stripe's 3-day webhook retries). */
  lookbackSeconds?: number;
  /**
   * Orders younger than this are left to their live orchestration (default: the payment window, at most
   * 120 s). Only to save work: every step is safe beside a live orchestration.
   */
  graceSeconds?: number;
  /** At most this many intents read from Stripe per run (default 1000). */
  maxIntents?: number;
  /** At most this many orders acted on per run (default 100). */
  maxActions?: number;
  /** One tenant only (operations, tests); the timer reconciles every tenant. */
  tenantId?: string;
  steps?: CheckoutSaga;
  source?: IntentSource;
}

interface OrderView {
  orderId: string;
  tenantId: string;
  status: OrderStatus;
  paymentIntentId: string | null;
  paymentStatus: PaymentStatus | null;
  /** No active reservation left that has not expired, and older than the grace period. */
  pastDeadline: boolean;
  young: boolean;
}

/** Orders whose payment the ledger shows succeeded but which are not confirmed. */
async function ledgerSucceededUnconfirmed(
  em: EntityManager,
  limit: number,
  graceSeconds: number,
  onlyTenantId?: string,
): Promise<{ tenantId: string; orderId: string }[]> {
  const rows = await em.execute<{ tenant_id: string; order_id: string }[]>(
    `select o.tenant_id, o.id as order_id from payments p
     join orders o on o.id = p.order_id and o.tenant_id = p.tenant_id
     where p.status = 'succeeded' and o.status <> 'confirmed'
       and o.created_at < now() - make_interval(secs => ?)
       and (?::uuid is null or o.tenant_id = ?::uuid)
     order by o.created_at limit ?`,
    [graceSeconds, onlyTenantId ?? null, onlyTenantId ?? null, limit],
  );
  return rows.map((row) => ({ tenantId: row.tenant_id, orderId: row.order_id }));
}

/** The orders the listed intents name, each looked up in the tenant its intent names. */
async function ordersOf(
  em: EntityManager,
  keys: { orderId: string; tenantId: string }[],
  graceSeconds: number,
): Promise<Map<string, OrderView>> {
  if (keys.length === 0) return new Map();
  const rows = await em.execute<
    {
      id: string;
      tenant_id: string;
      status: OrderStatus;
      payment_intent_id: string | null;
      payment_status: PaymentStatus | null;
      past_deadline: boolean;
      young: boolean;
    }[]
  >(
    `select o.id, o.tenant_id, o.status, p.payment_intent_id, p.status as payment_status,
       not exists (
         select 1 from reservations r
         where r.order_id = o.id and r.tenant_id = o.tenant_id and r.status = 'active' and r.expires_at >= now()
       ) as past_deadline,
       o.created_at >= now() - make_interval(secs => ?) as young
     from unnest(string_to_array(?, ',')::uuid[], string_to_array(?, ',')::uuid[]) as k(order_id, tenant_id)
     join orders o on o.id = k.order_id and o.tenant_id = k.tenant_id
     left join payments p on p.order_id = o.id and p.tenant_id = o.tenant_id`,
    // Joined: the driver would expand an array into a list; UUID-checked, so no comma inside.
    [graceSeconds, keys.map((k) => k.orderId).join(','), keys.map((k) => k.tenantId).join(',')],
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        orderId: row.id,
        tenantId: row.tenant_id,
        status: row.status,
        paymentIntentId: row.payment_intent_id,
        paymentStatus: row.payment_status,
        pastDeadline: row.past_deadline,
        young: row.young,
      },
    ]),
  );
}

const OPEN_INTENT = new Set<Stripe.PaymentIntent.Status>([
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
  'requires_capture',
]);

/** Metric names per count; the alert in bicep/modules/alerts.bicep fires on the ones that are work. */
export const RECONCILIATION_METRIC = 'ReconciliationCount';
export const RECONCILIATION_WORK: readonly (keyof ReconcileResult)[] = [
  'finalized',
  'refunded',
  'cancelled',
  'failed',
];

/**
 * One reconciliation pass (bounded; see ReconcileOptions):
 * 1. the ledger's succeeded payments whose order is not confirmed → the saga's finalize (confirms the
 *    order if it can still be, else refunds);
 * 2. Stripe's recent intents, so a success no webhook reported is found too. For intents carrying
 *    metadata.orderId of one of this app's orders: succeeded and the order not confirmed → finalize
 *    (finalize retrieves the intent and records Stripe's answer itself); succeeded, the order confirmed
 *    and a refund made outside the app → counted only (the refund work owns it); still open past the
 *    order's deadline → the intent's compensation (cancel, reading Stripe's state after a 5xx), then
 *    closeOrder. An intent of ours that the order's payment row does not name (a create whose answer
 *    was lost) is cancelled by its own key, or refunded if it ever took money. Other intents are counted
 *    and logged, never touched.
 */
export async function reconcilePayments(
  log: Logger,
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const {
    lookbackSeconds = 3 * 86_400,
    graceSeconds = Math.min(120, getSettings().CHECKOUT_PAYMENT_TIMEOUT_SECONDS),
    maxIntents = 1000,
    maxActions = 100,
    tenantId: onlyTenantId,
    steps = new CheckoutSaga(log),
    source = new StripeIntentSource(),
  } = options;
  const result: ReconcileResult = {
    listed: 0,
    finalized: 0,
    refunded: 0,
    cancelled: 0,
    processing: 0,
    refundedOutside: 0,
    foreign: 0,
    failed: 0,
    truncated: false,
  };
  const handled = new Set<string>();
  let actions = 0;
  const act = async (orderId: string, what: string, fn: () => Promise<void>): Promise<void> => {
    if (actions >= maxActions) {
      result.truncated = true;
      return;
    }
    actions++;
    handled.add(orderId);
    try {
      await fn();
    } catch (error) {
      result.failed++;
      log.warn(
        `reconciliation: ${what} for order ${orderId} failed; the next run retries`,
        errorSummary(error),
      );
    }
  };
  const input = (tenantId: string, orderId: string): CheckoutInput => ({
    tenantId,
    orderId,
    paymentTimeoutSeconds: 0,
  });
  const finalize = async (order: CheckoutInput): Promise<void> => {
    const done = await steps.finalize(order);
    if (done.outcome === 'confirmed') result.finalized++;
    else if (done.outcome === 'refunded') result.refunded++;
  };

  const fromLedger = await runUnitOfWork('read', (em) =>
    ledgerSucceededUnconfirmed(em, maxActions, graceSeconds, onlyTenantId),
  );
  for (const { tenantId, orderId } of fromLedger) {
    await act(orderId, 'finalizing a succeeded payment', () => finalize(input(tenantId, orderId)));
  }

  const since = Math.floor(Date.now() / 1000) - lookbackSeconds;
  const page = await source.listRecent(since, maxIntents);
  result.listed = page.intents.length;
  if (page.truncated) result.truncated = true;
  const ours = page.intents.filter(
    (intent) =>
      intent.orderId !== undefined &&
      intent.tenantId !== undefined &&
      UUID.test(intent.orderId) &&
      UUID.test(intent.tenantId) &&
      (onlyTenantId === undefined || intent.tenantId === onlyTenantId),
  );
  const orders = await runUnitOfWork('read', (em) =>
    ordersOf(
      em,
      ours.map((intent) => ({ orderId: intent.orderId!, tenantId: intent.tenantId! })),
      graceSeconds,
    ),
  );

  for (const intent of page.intents) {
    const order = intent.orderId ? orders.get(intent.orderId) : undefined;
    if (!order || order.tenantId !== intent.tenantId) {
      if (onlyTenantId === undefined || intent.tenantId === onlyTenantId) {
        result.foreign++;
        log.info(`reconciliation: intent ${intent.id} names no order of this app; left alone`);
      }
      continue;
    }
    if (handled.has(order.orderId) || order.young) continue;
    const at = input(order.tenantId, order.orderId);
    const closed = TERMINAL_ORDER_STATUSES.includes(order.status);
    // An intent the payment row does not name: a create whose answer was lost. Until the deadline a
    // retried create may still replay it and attach it, so it is left alone until then.
    const stray = order.paymentIntentId !== intent.id;
    const settled = closed || order.status === 'confirmed' || order.pastDeadline;

    if (stray) {
      if (!settled) continue;
      if (OPEN_INTENT.has(intent.status)) {
        await act(order.orderId, `cancelling stray intent ${intent.id}`, async () => {
          // Its own key: the order's `{orderId}:cancel` key belongs to the order's own intent. After a
          // 5xx (saved by Stripe for that key), Stripe's state decides, and a fresh key if still needed.
          const undone = await cancelOrRefund(steps.deps.gateway(), order.orderId, intent.id, {
            refund: false,
            key: `${order.orderId}:cancel:${intent.id}`,
          });
          // Paid or settling meanwhile: a later run sees it succeeded and refunds it.
          if (undone.kind === 'undone') result.cancelled++;
        });
      } else if (intent.status === 'succeeded') {
        // A stray intent refunded in full stays `succeeded` in the list: it is no work, and must not take
        // the order's one action of this run from its other intents (the list expands the latest charge).
        if (intent.amountRefunded !== undefined && intent.amountRefunded >= intent.amountReceived) continue;
        await act(order.orderId, `refunding stray intent ${intent.id}`, async () => {
          const remaining = intent.amountReceived - (await steps.deps.gateway().refundedAmount(intent.id));
          if (remaining <= 0) return;
          // Keyed by what is left: two runs share one refund; after a refund, the key changes. After a
          // 5xx (saved for that key), the refunds are listed and what is left goes under a fresh key.
          const key = `${order.orderId}:refund:${intent.id}:${remaining}`;
          const refunded = await refundRemainder(steps.deps.gateway(), order.orderId, intent, {
            amount: remaining,
            key,
          });
          if (refunded) result.refunded++;
        });
      }
      continue;
    }

    if (intent.status === 'succeeded') {
      if (order.status === 'confirmed') {
        const refunded =
          order.paymentStatus === 'refunded' ||
          (intent.amountRefunded ?? (await steps.deps.gateway().refundedAmount(intent.id))) > 0;
        if (refunded) result.refundedOutside++;
        continue;
      }
      if (order.paymentStatus === 'refunded') continue;
      await act(order.orderId, 'finalizing a succeeded intent', () => finalize(at));
      continue;
    }

    if (OPEN_INTENT.has(intent.status) || intent.status === 'processing') {
      if (order.status === 'confirmed' || !settled) continue;
      await act(order.orderId, 'cancelling an intent past its deadline', async () => {
        const compensation = { ...at, status: 'expired' as const, reason: 'reservation_expired' as const };
        const undone = await steps.undoPaymentIntent(compensation);
        if (undone.outcome === 'payment_succeeded') return finalize(at);
        if (undone.outcome === 'processing') {
          if (!closed) await steps.extendReservation(at);
          result.processing++;
          return;
        }
        const ended = closed ? { outcome: 'closed' as const } : await steps.release(compensation);
        if (ended.outcome === 'payment_succeeded') return finalize(at);
        if (ended.outcome === 'processing') {
          await steps.extendReservation(at);
          result.processing++;
          return;
        }
        result.cancelled++;
      });
    }
  }

  report(log, result);
  return result;
}

function report(log: Logger, result: ReconcileResult): void {
  for (const [outcome, value] of Object.entries(result)) {
    if (typeof value === 'number') trackMetric(RECONCILIATION_METRIC, value, { outcome });
  }
  const line =
    `reconciliation: listed ${result.listed} intent(s); finalized ${result.finalized}, refunded ${result.refunded}, ` +
    `cancelled ${result.cancelled}, processing ${result.processing}, refunded outside ${result.refundedOutside}, ` +
    `foreign ${result.foreign}, failed ${result.failed}${result.truncated ? ' (bound reached)' : ''}`;
  if (RECONCILIATION_WORK.some((key) => (result[key] as number) > 0)) log.warn(line);
  else log.info(line);
}

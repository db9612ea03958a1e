import { runUnitOfWork } from '../../db/unit-of-work.js';
import { errorSummary } from '../../logging/error-summary.js';
import type { Logger } from '../../logging/logger.js';
import { newId } from '../../utils/ids.js';
import { RefundRepository } from '../../repositories/refund-repository.js';
import { StripePaymentGateway, type PaymentGateway } from '../payments/payment-gateway.js';
import { RefundService } from './refund-service.js';

/**
 * Refunds a Stripe outage left `pending` (an admin's refund, a cancellation's) are promised money: the
 * customer was told it is coming and `refunded_cents` already holds it. Nobody may be around to repeat
 * the request, so the reconciliation timer drives them again. Each goes through RefundService.drive —
 * the refund's own idempotency key first, Stripe's list read after a 5xx before a fresh key — so a
 * re-drive racing the admin's own retry or the charge.refunded webhook refunds once (the row settles
 * by a conditional update). Young rows are left to the request that created them.
 */
export interface RedriveResult {
  /** Pending refunds looked at. */
  seen: number;
  /** Settled by Stripe's answer: succeeded. */
  succeeded: number;
  /** Refused by Stripe for good: the promise was given back. */
  refused: number;
  /** Stripe still unavailable (or the drive threw): left pending for the next run. */
  stillPending: number;
}

export interface RedriveOptions {
  /** Rows younger than this are left to the request that created them (default 60 s). */
  olderThanSeconds?: number;
  /** At most this many rows per run, oldest first (default 50). */
  limit?: number;
  /** One tenant only (operations, tests). */
  tenantId?: string;
  gateway?: () => PaymentGateway;
}

export async function redrivePendingRefunds(
  log: Logger,
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  const { olderThanSeconds = 60, limit = 50, tenantId, gateway = () => new StripePaymentGateway() } = options;
  // Across tenants on purpose (the timer has no tenant); every later statement runs in the row's own.
  const rows = await runUnitOfWork('read', (em) =>
    em.execute<{ id: string; tenant_id: string; order_id: string }[]>(
      `select id, tenant_id, order_id from refunds
        where status = 'pending' and created_at < now() - make_interval(secs => ?)
          and (?::uuid is null or tenant_id = ?::uuid)
        order by created_at limit ?`,
      [olderThanSeconds, tenantId ?? null, tenantId ?? null, limit],
    ),
  );
  const result: RedriveResult = { seen: rows.length, succeeded: 0, refused: 0, stillPending: 0 };
  for (const row of rows) {
    const correlationId = newId();
    try {
      const ended = await runUnitOfWork('read', async (em) => {
        const ctx = { em, tenantId: row.tenant_id, log, correlationId };
        const refund = await new RefundRepository(ctx).byId(row.id);
        if (!refund || refund.status !== 'pending') return refund?.status;
        return (await new RefundService(ctx, gateway).drive(refund)).status;
      });
      if (ended === 'succeeded') result.succeeded++;
      else if (ended === 'failed') result.refused++;
      else if (ended === 'pending') result.stillPending++;
    } catch (error) {
      result.stillPending++;
      log.warn(
        `refund re-drive: refund ${row.id} of order ${row.order_id} failed; the next run retries`,
        errorSummary(error),
      );
    }
  }
  return result;
}

/** Metric outcomes of a re-drive run, under the reconciliation's metric (all of them are work). */
export const REDRIVE_OUTCOMES = {
  succeeded: 'refundRedriven',
  refused: 'refundRefused',
  stillPending: 'refundStillPending',
} as const satisfies Partial<Record<keyof RedriveResult, string>>;

export function reportRedrive(
  log: Logger,
  result: RedriveResult,
  track: (outcome: string, value: number) => void,
): void {
  for (const [key, outcome] of Object.entries(REDRIVE_OUTCOMES)) {
    track(outcome, result[key as keyof typeof REDRIVE_OUTCOMES]);
  }
  if (result.seen === 0) return;
  log.warn(
    `refund re-drive: ${result.seen} pending refund(s); ${result.succeeded} succeeded, ` +
      `${result.refused} refused, ${result.stillPending} still pending`,
  );
}

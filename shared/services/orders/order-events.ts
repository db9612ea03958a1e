import { createHash } from 'node:crypto';
import { getSettings } from '../../config/index.js';
import { runUnitOfWork } from '../../db/unit-of-work.js';
import type { Logger } from '../../logging/logger.js';
import { getMessageSender, type MessageSender } from '../../messaging/index.js';
import { newId } from '../../utils/ids.js';
import type { DomainContext } from '../context.js';

export const ORDER_EVENT_TYPES = [
  'order.confirmed',
  'order.cancelled',
  'order.refunded',
  'order.shipped',
  'order.payment_failed',
] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

/** The body of an `order-events` message: the same shape whatever the type; `data` is per type. */
export interface OrderEvent {
  eventId: string;
  type: OrderEventType;
  tenantId: string;
  orderId: string;
  /** ISO-8601 UTC: when the change committed (the outbox row's created_at). */
  occurredAt: string;
  data: Record<string, unknown>;
}

export interface NewOrderEvent {
  type: OrderEventType;
  orderId: string;
  /** Ids, statuses, amounts, carrier details: never PII (the consumer reads what it must mail). */
  data?: Record<string, unknown>;
  /** A stable id makes a re-run of the same change write nothing new (e.g. derived from the order). */
  eventId?: string;
}

/**
 * The id of "this order's event of this type" when an order can have it only once (confirmed, shipped):
 * a name-based UUID (RFC 9562 version 8, SHA-256 of the name), so a re-run of the change that emits it
 * writes nothing new and Service Bus drops a re-send by messageId.
 */
export function stableEventId(orderId: string, type: OrderEventType): string {
  const hash = createHash('sha256').update(`${orderId}:${type}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x80;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Writes an order event into the outbox through the caller's unit of work: it commits or rolls back with
 * the change it announces, so there is never an event about a change that did not happen, nor a change
 * whose event is lost. `on conflict do nothing` on the id makes a re-run with a stable `eventId` a no-op.
 * Returns the event id, or null when that event was already written. The caller nudges the relay after
 * its commit (nudgeOrderEventRelay); the relay's timer is the backstop.
 */
export async function writeOrderEvent(ctx: DomainContext, event: NewOrderEvent): Promise<string | null> {
  const eventId = event.eventId ?? newId();
  const rows = await ctx.em.execute<{ id: string }[]>(
    `insert into order_events (id, tenant_id, order_id, type, body)
     values (?, ?, ?, ?, ?::jsonb)
     on conflict (id) do nothing
     returning id`,
    [eventId, ctx.tenantId, event.orderId, event.type, JSON.stringify(event.data ?? {})],
  );
  return rows.length === 1 ? eventId : null;
}

interface PendingRow {
  id: string;
  tenant_id: string;
  order_id: string;
  type: OrderEventType;
  body: Record<string, unknown> | string;
  occurred_at: string;
}

/**
 * Sends pending outbox rows to the `order-events` queue and marks them relayed. Like the audit relay: a
 * batch is locked (`for update skip locked`, so relays on several instances split the work), each row is
 * sent with messageId = eventId (Service Bus duplicate detection drops a re-send), and the marks commit
 * after the sends. A failed send rolls the batch back and the rows wait for the next run; a crash after
 * a send and before the commit re-sends, which duplicate detection and the consumer's sent-notification
 * key absorb. Rows leave in created_at order per run; consumers must not rely on order across runs.
 */
export class OrderEventRelay {
  constructor(
    private readonly sender: () => MessageSender = getMessageSender,
    private readonly batchSize = 100,
  ) {}

  async runOnce(): Promise<number> {
    return runUnitOfWork('write', async (em) => {
      // Marked and read in one statement; the marks commit only after every send (a failed send throws
      // and rolls them back).
      const rows = await em.execute<PendingRow[]>(
        `update order_events e set relayed_at = now()
           from (select id from order_events where relayed_at is null
                  order by created_at, id limit ? for update skip locked) batch
          where e.id = batch.id
          returning e.id, e.tenant_id, e.order_id, e.type, e.body,
                    to_char(e.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as occurred_at`,
        [this.batchSize],
      );
      // UPDATE … RETURNING keeps no order: sent in created_at order (µs text, sortable), then id.
      rows.sort((a, b) => a.occurred_at.localeCompare(b.occurred_at) || a.id.localeCompare(b.id));
      if (rows.length === 0) return 0;
      const queue = getSettings().ORDER_EVENTS_QUEUE_NAME;
      const sender = this.sender();
      for (const row of rows) {
        const event: OrderEvent = {
          eventId: row.id,
          type: row.type,
          tenantId: row.tenant_id,
          orderId: row.order_id,
          occurredAt: row.occurred_at,
          data: typeof row.body === 'string' ? (JSON.parse(row.body) as Record<string, unknown>) : row.body,
        };
        await sender.send(queue, {
          body: event,
          messageId: row.id,
          applicationProperties: { type: row.type, tenantId: row.tenant_id },
        });
      }
      return rows.length;
    });
  }

  async drain(maxBatches = 20): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const moved = await this.runOnce();
      total += moved;
      if (moved < this.batchSize) break;
    }
    return total;
  }
}

let relay: OrderEventRelay | undefined;

export function getOrderEventRelay(): OrderEventRelay {
  relay ??= new OrderEventRelay();
  return relay;
}

/**
 * "Relay soon", after a commit that wrote events. Installed by the notifications module in a Functions
 * process (as the audit nudge is by the timers module), so code under test never relays behind a test's
 * back. Failures only log: the timer retries.
 */
let nudgeRunner: (() => Promise<unknown>) | undefined;
let scheduled: NodeJS.Timeout | undefined;

export function setOrderEventNudgeRunner(next: (() => Promise<unknown>) | undefined): void {
  nudgeRunner = next;
}

/**
 * 250 ms, as the audit relay's nudge (services/audit/nudge.ts): each run is a transaction of three
 * statements and each batch the notifications trigger takes another, whatever their size, so a window
 * that gathers several checkouts' events (~0.45 runs per checkout at 50 ms under 8 closed-loop
 * clients) costs less per email, which still leaves within a fraction of a second.
 */
export function nudgeOrderEventRelay(log?: Logger, delayMs = 250): void {
  if (!nudgeRunner || scheduled) return;
  const run = nudgeRunner;
  scheduled = setTimeout(() => {
    scheduled = undefined;
    run().catch((error: unknown) => {
      log?.warn(
        'order-event relay nudge failed; the timer will retry',
        error instanceof Error ? error.message : '',
      );
    });
  }, delayMs);
  scheduled.unref();
}

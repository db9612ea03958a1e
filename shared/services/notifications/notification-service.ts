import { getSettings } from '../../config/index.js';
import { runUnitOfWork } from '../../db/unit-of-work.js';
import type { Logger } from '../../logging/logger.js';
import { formatMoney } from './format.js';
import { z } from '../../schemas/zod.js';
import { ORDER_EVENT_TYPES, type OrderEvent } from '../orders/order-events.js';
import type { FieldCipher } from '../../crypto/field-cipher.js';
import { getFieldCipher } from '../pii-cipher.js';
import { getEmailSender, type Email, type EmailSender } from './email-sender.js';

export const OrderEventMessage = z.object({
  eventId: z.uuid(),
  type: z.enum(ORDER_EVENT_TYPES),
  tenantId: z.uuid(),
  orderId: z.uuid(),
  occurredAt: z.string(),
  data: z.record(z.string(), z.unknown()),
});

/** A message that can never be handled: retrying cannot help, the dead-letter queue keeps it. */
export class PoisonMessageError extends Error {
  constructor(reason: string) {
    super(`poison message: ${reason}`);
    this.name = 'PoisonMessageError';
  }
}

function render(event: OrderEvent, name: string, total: string): { subject: string; text: string } {
  const ref = event.orderId.slice(0, 8).toUpperCase();
  const hello = `Hello ${name},\n\n`;
  const bye = `\n\nOrder reference: ${event.orderId}\n`;
  switch (event.type) {
    case 'order.confirmed':
      return {
        subject: `Order ${ref} confirmed`,
        text: `${hello}thank you: your order of ${total} is confirmed.${bye}`,
      };
    case 'order.shipped': {
      const carrier = typeof event.data.carrier === 'string' ? event.data.carrier : 'the carrier';
      const tracking = typeof event.data.trackingNumber === 'string' ? event.data.trackingNumber : '';
      return {
        subject: `Order ${ref} shipped`,
        text: `${hello}your order has shipped with ${carrier}. Tracking number: ${tracking}.${bye}`,
      };
    }
    case 'order.cancelled':
      return { subject: `Order ${ref} cancelled`, text: `${hello}your order has been cancelled.${bye}` };
    case 'order.refunded':
      return {
        subject: `Order ${ref} refunded`,
        text: `${hello}a refund for your order has been issued.${bye}`,
      };
    case 'order.payment_failed':
      return {
        subject: `Payment for order ${ref} failed`,
        text: `${hello}we could not take the payment of ${total} for your order; it was not placed.${bye}`,
      };
  }
}

/** One message of a batch as Service Bus delivered it. */
export interface Delivered {
  message: unknown;
  /** This message's delivery count (1 on the first delivery). */
  deliveryCount: number;
}

/** Emails handed to the provider at once, per batch. */
const SEND_CONCURRENCY = 8;

export type NotificationOutcome = 'sent' | 'duplicate' | 'no-recipient';

interface Claimed {
  event_id: string;
  email_enc: string | null;
  name: string | null;
  total_cents: string | number | null;
  currency: string | null;
}

/** A batch in which some messages failed: Service Bus redelivers the whole batch. */
export class NotificationBatchError extends Error {
  constructor(
    readonly failed: number,
    readonly of: number,
    readonly first: unknown,
  ) {
    const why = first instanceof Error ? first.message : String(first);
    super(`notifications: ${failed} of ${of} message(s) failed (${why}); the batch is delivered again`);
    this.name = 'NotificationBatchError';
  }
}

/**
 * Emails customers about order events, at most once per event however often Service Bus delivers it.
 * The trigger takes a batch (`cardinality: 'many'`), so the work a message costs the database is shared
 * by its batch: one transaction claims every event of the batch and reads its recipients in one
 * statement (a concurrent duplicate delivery waits on the claimed keys, then finds them and sends
 * nothing), the emails are handed to the provider, and only then does the transaction commit.
 *
 * A message that cannot be sent (the provider failed, or it is not an order event) loses its claim
 * before the commit, so the others stay recorded as sent; then the batch throws and Service Bus
 * delivers it again (with autoCompleteMessages a function's failure abandons its whole batch:
 * learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus-trigger). The second time the
 * sent ones are skipped by their claims and only the failed ones are tried. A message failing its last
 * delivery dead-letters (logged here with the event id, so the dead-letter alert can be traced to it);
 * batch-mates that reach their last delivery with it dead-letter too, already emailed, which replaying
 * them from the dead-letter queue would not repeat. The one window left — the provider accepted, then
 * the commit failed — can send a batch's emails twice; it is as narrow as one commit.
 */
export class NotificationService {
  constructor(
    private readonly log: Logger,
    private readonly sender: () => EmailSender = getEmailSender,
  ) {}

  async handle(batch: readonly Delivered[], maxDeliveries: number): Promise<NotificationOutcome[]> {
    const failures = new Map<number, unknown>();
    const events = batch.map((delivered, index) => {
      const parsed = OrderEventMessage.safeParse(delivered.message);
      if (parsed.success) return parsed.data;
      failures.set(index, new PoisonMessageError('not an order event'));
      return undefined;
    });
    let outcomes = new Map<string, NotificationOutcome>();
    const failedEvents = new Map<string, unknown>();
    const valid = events.filter((e): e is OrderEvent => e !== undefined);
    if (valid.length > 0) {
      try {
        outcomes = await this.deliver(valid, failedEvents);
      } catch (error) {
        // The transaction itself failed (database unreachable): nothing was recorded as sent.
        for (const event of valid) failedEvents.set(event.eventId, error);
      }
    }
    events.forEach((event, index) => {
      const failure = event && failedEvents.get(event.eventId);
      if (failure !== undefined) failures.set(index, failure);
    });
    for (const [index, failure] of failures) this.logFailure(batch[index]!, maxDeliveries, failure);
    if (failures.size > 0)
      throw new NotificationBatchError(failures.size, batch.length, [...failures.values()][0]);
    return events.map((event) => outcomes.get(event!.eventId)!);
  }

  private logFailure(delivered: Delivered, maxDeliveries: number, error: unknown): void {
    const id = (delivered.message as { eventId?: unknown } | null)?.eventId;
    const what = `notifications: event ${typeof id === 'string' ? id : '(no id)'} failed on delivery ${delivered.deliveryCount} of ${maxDeliveries}`;
    const why = error instanceof Error ? error.message : String(error);
    if (delivered.deliveryCount >= maxDeliveries)
      this.log.error(`${what}; giving up: Service Bus moves it to the dead-letter queue (${why})`);
    else this.log.warn(`${what}; it will be retried (${why})`);
  }

  /** Claims, emails and commits the batch's events; the ones whose email failed go to `failed`, unclaimed. */
  private async deliver(
    events: readonly OrderEvent[],
    failed: Map<string, unknown>,
  ): Promise<Map<string, NotificationOutcome>> {
    // The same event twice in one batch (a re-send): claimed once, the other copy is a duplicate.
    const unique = [...new Map(events.map((e) => [e.eventId, e])).values()];
    return runUnitOfWork('write', async (em) => {
      // The claims (one row per event: a redelivery sends nothing) and the recipients in one statement:
      // an event without a row was already emailed; a row without an address has nobody to tell. Each
      // event's order and customer are looked up within the event's own tenant.
      const claimed = await em.execute<Claimed[]>(
        `with batch as (
           select * from jsonb_to_recordset(?::jsonb) as b(event_id uuid, tenant_id uuid, order_id uuid, type text)
         ), claimed as (
           insert into sent_notifications (event_id, tenant_id, order_id, type, channel)
           select event_id, tenant_id, order_id, type, 'email' from batch
           on conflict (event_id) do nothing
           returning event_id, tenant_id, order_id
         )
         select c.event_id, u.email_enc, u.name, o.total_cents, o.currency
           from claimed c
           left join orders o on o.tenant_id = c.tenant_id and o.id = c.order_id
           left join users u on u.tenant_id = o.tenant_id and u.id = o.user_id and u.deleted_at is null`,
        [
          JSON.stringify(
            unique.map((e) => ({
              event_id: e.eventId,
              tenant_id: e.tenantId,
              order_id: e.orderId,
              type: e.type,
            })),
          ),
        ],
      );
      const byId = new Map(claimed.map((row) => [row.event_id, row]));
      const outcomes = new Map<string, NotificationOutcome>();
      const cipher = claimed.some((row) => row.email_enc) ? await getFieldCipher() : undefined;
      const sends: OrderEvent[] = [];
      for (const event of unique) {
        const row = byId.get(event.eventId);
        if (!row) {
          this.log.info(`notifications: event ${event.eventId} (${event.type}) was already emailed; skipped`);
          outcomes.set(event.eventId, 'duplicate');
        } else if (!row.email_enc) {
          // A deleted account (or an order gone): nobody to tell; the row records that it was handled.
          this.log.warn(`notifications: event ${event.eventId}: no customer to email; skipped`);
          outcomes.set(event.eventId, 'no-recipient');
        } else sends.push(event);
      }
      // A few at a time: the claims' transaction stays open while the provider answers.
      for (let i = 0; i < sends.length; i += SEND_CONCURRENCY) {
        await Promise.all(
          sends.slice(i, i + SEND_CONCURRENCY).map(async (event) => {
            try {
              await this.sender().send(this.compose(event, byId.get(event.eventId)!, cipher!), this.log);
              outcomes.set(event.eventId, 'sent');
            } catch (error) {
              failed.set(event.eventId, error);
            }
          }),
        );
      }
      if (failed.size > 0) {
        // Unclaimed, so the redelivery tries them again; the rest commit as sent.
        await em.execute(
          `delete from sent_notifications where event_id in (select value::uuid from jsonb_array_elements_text(?::jsonb))`,
          [JSON.stringify([...failed.keys()])],
        );
      }
      return outcomes;
    });
  }

  private compose(event: OrderEvent, row: Claimed, cipher: FieldCipher): Email {
    const { subject, text } = render(
      event,
      row.name ?? '',
      formatMoney(Number(row.total_cents), row.currency ?? ''),
    );
    return {
      id: event.eventId,
      from: getSettings().EMAIL_SENDER_ADDRESS,
      to: cipher.decrypt(row.email_enc!),
      subject,
      text,
    };
  }
}

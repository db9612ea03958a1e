import { getSettings } from '../../config/index.js';
import { runUnitOfWork } from '../../db/unit-of-work.js';
import type { Logger } from '../../logging/logger.js';
import { formatMoney } from './format.js';
import { z } from '../../schemas/zod.js';
import { ORDER_EVENT_TYPES, type OrderEvent } from '../orders/order-events.js';
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

interface Recipient {
  email_enc: string;
  name: string;
  total_cents: string | number;
  currency: string;
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

export interface Delivery {
  deliveryCount: number;
  maxDeliveries: number;
}

/**
 * Emails the customer about an order event, at most once per event however often Service Bus delivers
 * it. In one transaction: the event's sent_notifications row is inserted (a concurrent duplicate
 * delivery waits on its key, then finds it and sends nothing), the email is handed to the provider, and
 * only then does the row commit. If the provider fails, the row rolls back and the error propagates, so
 * Service Bus redelivers; after the last delivery the message dead-letters (logged here, with the event
 * id, so the dead-letter alert can be traced to it). The one window left — the provider accepted, then
 * the commit failed — can send a second email; it is as narrow as one commit.
 */
export class NotificationService {
  constructor(
    private readonly log: Logger,
    private readonly sender: () => EmailSender = getEmailSender,
  ) {}

  async handle(message: unknown, delivery: Delivery): Promise<'sent' | 'duplicate' | 'no-recipient'> {
    try {
      const parsed = OrderEventMessage.safeParse(message);
      if (!parsed.success) throw new PoisonMessageError('not an order event');
      return await this.deliver(parsed.data);
    } catch (error) {
      const last = delivery.deliveryCount >= delivery.maxDeliveries;
      const id = (message as { eventId?: unknown } | null)?.eventId;
      const what = `notifications: event ${typeof id === 'string' ? id : '(no id)'} failed on delivery ${delivery.deliveryCount} of ${delivery.maxDeliveries}`;
      const why = error instanceof Error ? error.message : String(error);
      if (last) this.log.error(`${what}; giving up: Service Bus moves it to the dead-letter queue (${why})`);
      else this.log.warn(`${what}; it will be retried (${why})`);
      throw error;
    }
  }

  private async deliver(event: OrderEvent): Promise<'sent' | 'duplicate' | 'no-recipient'> {
    return runUnitOfWork('write', async (em) => {
      // The claim (one row per event: a redelivery sends nothing) and the recipient in one statement:
      // no row = already emailed; a row without an address = nobody to tell.
      const claimed = await em.execute<(Partial<Recipient> & { event_id: string })[]>(
        `with claimed as (
           insert into sent_notifications (event_id, tenant_id, order_id, type, channel)
           values (?, ?, ?, ?, 'email') on conflict (event_id) do nothing returning event_id
         )
         select c.event_id, r.email_enc, r.name, r.total_cents, r.currency
           from claimed c left join (
             select u.email_enc, u.name, o.total_cents, o.currency
               from orders o join users u on u.id = o.user_id and u.tenant_id = o.tenant_id
              where o.tenant_id = ? and o.id = ? and u.deleted_at is null
           ) r on true`,
        [event.eventId, event.tenantId, event.orderId, event.type, event.tenantId, event.orderId],
      );
      if (claimed.length === 0) {
        this.log.info(`notifications: event ${event.eventId} (${event.type}) was already emailed; skipped`);
        return 'duplicate';
      }
      const found = claimed[0]!;
      const recipient: Recipient | undefined = found.email_enc
        ? {
            email_enc: found.email_enc,
            name: found.name!,
            total_cents: found.total_cents!,
            currency: found.currency!,
          }
        : undefined;
      if (!recipient) {
        // A deleted account (or an order gone): nobody to tell; the row records that it was handled.
        this.log.warn(`notifications: event ${event.eventId}: no customer to email; skipped`);
        return 'no-recipient';
      }
      const cipher = await getFieldCipher();
      const { subject, text } = render(
        event,
        recipient.name,
        formatMoney(Number(recipient.total_cents), recipient.currency),
      );
      const email: Email = {
        id: event.eventId,
        from: getSettings().EMAIL_SENDER_ADDRESS,
        to: cipher.decrypt(recipient.email_enc),
        subject,
        text,
      };
      await this.sender().send(email, this.log);
      return 'sent';
    });
  }
}

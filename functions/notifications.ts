import { app, type InvocationContext, type Timer } from '@azure/functions';
import { getOrderEventRelay, setOrderEventNudgeRunner } from '../shared/services/orders/order-events.js';
import { NotificationService } from '../shared/services/notifications/notification-service.js';

/** Must equal host.json's `extensions.serviceBus.maxDeliveryCount` (and the queue's, in Bicep). */
export const NOTIFICATION_MAX_DELIVERIES = 5;

// In a Functions process, writes that add order events nudge the relay right after they commit; the
// timer below is the backstop (and drains what waited while Service Bus was unreachable).
setOrderEventNudgeRunner(() => getOrderEventRelay().drain());

function parse(message: unknown): unknown {
  if (typeof message !== 'string') return message;
  try {
    return JSON.parse(message) as unknown;
  } catch {
    return undefined;
  }
}

/** This message's delivery count, from a batch trigger's `deliveryCountArray`. */
function deliveryCountAt(context: InvocationContext, index: number): number {
  const counts = context.triggerMetadata?.deliveryCountArray;
  const count = Array.isArray(counts) ? Number(counts[index]) : NaN;
  return Number.isFinite(count) && count >= 1 ? count : 1;
}

/**
 * Queue-triggered, a batch at a time: emails the customers about order events (at most once per event
 * id). Throwing makes Service Bus deliver the batch again; a message failing its last delivery
 * dead-letters, with an error log line.
 */
export async function notifications(messages: unknown[], context: InvocationContext): Promise<void> {
  await new NotificationService(context).handle(
    messages.map((message, index) => ({
      message: parse(message),
      deliveryCount: deliveryCountAt(context, index),
    })),
    NOTIFICATION_MAX_DELIVERIES,
  );
}

/** Every 30 seconds: order events still in the outbox go to the queue. */
export async function orderEventRelay(_timer: Timer, context: InvocationContext): Promise<void> {
  try {
    const moved = await getOrderEventRelay().drain();
    if (moved > 0) context.debug(`order-event relay: ${moved} event(s) sent`);
  } catch (error) {
    context.warn(
      'order-event relay: sending failed; events wait in the outbox',
      error instanceof Error ? error.message : '',
    );
  }
}

app.serviceBusQueue('notifications', {
  connection: 'ServiceBusConnection',
  queueName: '%ORDER_EVENTS_QUEUE_NAME%',
  cardinality: 'many',
  handler: notifications,
});
app.timer('orderEventRelay', { schedule: '15,45 * * * * *', handler: orderEventRelay });

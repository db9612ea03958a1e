import './lib/telemetry-start.js';
import { app, type InvocationContext } from '@azure/functions';
import { z } from '../shared/schemas/zod.js';
import { runExport } from '../shared/services/export/export-runner.js';

/** Must equal host.json's `extensions.serviceBus.maxDeliveryCount` (and the queue's, in Bicep). */
export const EXPORT_MAX_DELIVERIES = 5;

const Message = z.object({ exportId: z.uuid(), tenantId: z.uuid() });

/**
 * Queue-triggered export. Throwing makes Service Bus redeliver; after the last delivery the message
 * is dead-lettered and the job is already marked failed with the reason.
 */
export async function orderExport(message: unknown, context: InvocationContext): Promise<void> {
  const parsed = Message.safeParse(typeof message === 'string' ? safeJson(message) : message);
  if (!parsed.success) {
    // Redelivering a malformed message cannot help; completing it keeps it out of everyone's way.
    context.error('order export: malformed message dropped');
    return;
  }
  const deliveryCount = Number(context.triggerMetadata?.deliveryCount ?? 1);
  await runExport(parsed.data, { deliveryCount, maxDeliveries: EXPORT_MAX_DELIVERIES }, context);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// `%…%` is resolved from app settings by the Functions host (and by the local host), so loading this
// module needs no settings.
app.serviceBusQueue('orderExport', {
  connection: 'ServiceBusConnection',
  queueName: '%EXPORT_QUEUE_NAME%',
  handler: orderExport,
});

import type { MessageSender, OutgoingMessage } from '../../../shared/messaging/types.js';
import type { LocalServiceBus } from './local-bus.js';

/**
 * The project's `MessageSender` port over the in-process queues; registered with `setLocalMessageBus()`
 * so `getMessageSender()` picks it when no Service Bus connection is configured. Keeps the broker's
 * guarantees the domain relies on: duplicate detection by `messageId` and `scheduledEnqueueTime`.
 */
export class LocalMessageSender implements MessageSender {
  #closed = false;

  constructor(private readonly bus: LocalServiceBus) {}

  async send(queueName: string, message: OutgoingMessage): Promise<void> {
    if (this.#closed) throw new Error('The local message sender is closed (the host is shutting down)');
    this.bus.send(queueName, {
      body: message.body,
      contentType: message.contentType ?? 'application/json',
      ...(message.messageId !== undefined ? { messageId: message.messageId } : {}),
      ...(message.scheduledEnqueueTime ? { scheduledEnqueueTime: message.scheduledEnqueueTime } : {}),
      ...(message.applicationProperties ? { applicationProperties: message.applicationProperties } : {}),
    });
  }

  async close(): Promise<void> {
    // The queues belong to the host and outlive one sender; closing only stops this adapter.
    this.#closed = true;
  }
}

import type { MessageSender, OutgoingMessage } from './types.js';

/** The slice of `@azure/service-bus` we use, so the adapter can be exercised without a namespace. */
export interface ServiceBusSenderLike {
  sendMessages(message: {
    body: unknown;
    messageId?: string;
    contentType?: string;
    applicationProperties?: Record<string, string | number | boolean>;
  }): Promise<void>;
  scheduleMessages(
    message: { body: unknown; messageId?: string; contentType?: string },
    scheduledEnqueueTimeUtc: Date,
  ): Promise<unknown>;
  close(): Promise<void>;
}

export interface ServiceBusClientLike {
  createSender(queueOrTopicName: string): ServiceBusSenderLike;
  close(): Promise<void>;
}

/**
 * Sends through Azure Service Bus. `messageId` is passed through so the queue's duplicate detection
 * drops a re-send of the same logical message (an export requested twice, an event re-published after
 * a retry). Senders are cached per queue: creating one opens an AMQP link.
 */
export class ServiceBusMessageSender implements MessageSender {
  private readonly senders = new Map<string, ServiceBusSenderLike>();

  constructor(private readonly client: ServiceBusClientLike) {}

  async send(queueName: string, message: OutgoingMessage): Promise<void> {
    let sender = this.senders.get(queueName);
    if (!sender) {
      sender = this.client.createSender(queueName);
      this.senders.set(queueName, sender);
    }
    const outgoing = {
      body: message.body,
      contentType: message.contentType ?? 'application/json',
      ...(message.messageId ? { messageId: message.messageId } : {}),
      ...(message.applicationProperties ? { applicationProperties: message.applicationProperties } : {}),
    };
    if (message.scheduledEnqueueTime) await sender.scheduleMessages(outgoing, message.scheduledEnqueueTime);
    else await sender.sendMessages(outgoing);
  }

  async close(): Promise<void> {
    await Promise.all([...this.senders.values()].map((s) => s.close()));
    this.senders.clear();
    await this.client.close();
  }
}

/** Connection string, or identity-based (`ServiceBusConnection__fullyQualifiedNamespace`) with managed identity. */
export function createServiceBusClient(options: {
  connectionString?: string;
  fullyQualifiedNamespace?: string;
}): ServiceBusClientLike {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { ServiceBusClient } = require('@azure/service-bus') as typeof import('@azure/service-bus');
  if (options.connectionString) return new ServiceBusClient(options.connectionString);
  const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return new ServiceBusClient(options.fullyQualifiedNamespace!, new DefaultAzureCredential());
}

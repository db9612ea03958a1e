/** A message for a queue; `messageId` drives duplicate detection where the transport supports it. */
export interface OutgoingMessage {
  body: unknown;
  messageId?: string;
  contentType?: string;
  /** Deliver no earlier than this instant. */
  scheduledEnqueueTime?: Date;
  applicationProperties?: Record<string, string | number | boolean>;
}

/** The narrow port the domain sends through: Azure Service Bus in Azure, an in-process queue locally. */
export interface MessageSender {
  send(queueName: string, message: OutgoingMessage): Promise<void>;
  close(): Promise<void>;
}

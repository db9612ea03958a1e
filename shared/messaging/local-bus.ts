import type { MessageSender } from './types.js';

/**
 * The local Functions host registers its in-process queues here so the project's sender adapter can use
 * them when no Service Bus connection is configured. Nothing registers in Azure.
 */
let localBus: MessageSender | undefined;

export function setLocalMessageBus(bus: MessageSender | undefined): void {
  localBus = bus;
}

export function getLocalMessageBus(): MessageSender | undefined {
  return localBus;
}

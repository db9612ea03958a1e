import { ConfigurationError, getSettings } from '../config/index.js';
import { getLocalMessageBus } from './local-bus.js';
import { ServiceBusMessageSender, createServiceBusClient } from './service-bus-sender.js';
import type { MessageSender } from './types.js';

export type { MessageSender, OutgoingMessage } from './types.js';

let serviceBus: ServiceBusMessageSender | undefined;

/**
 * The sender for this process: Azure Service Bus when a connection is configured, otherwise the local
 * host's in-process queues (or a test's recorder). In Azure a missing connection is a start-up error.
 */
export function getMessageSender(): MessageSender {
  const settings = getSettings();
  const connectionString = settings.ServiceBusConnection;
  const fullyQualifiedNamespace = settings.ServiceBusConnection__fullyQualifiedNamespace;
  if (connectionString || fullyQualifiedNamespace) {
    serviceBus ??= new ServiceBusMessageSender(
      createServiceBusClient({
        ...(connectionString ? { connectionString } : {}),
        ...(fullyQualifiedNamespace ? { fullyQualifiedNamespace } : {}),
      }),
    );
    return serviceBus;
  }
  const local = getLocalMessageBus();
  if (local) return local;
  throw new ConfigurationError(['ServiceBusConnection: no Service Bus connection and no local message bus']);
}

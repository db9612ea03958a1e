import type { MessageSender } from '../../shared/messaging/types.js';
import type { OutputValue } from './invocation.js';
import { subscriptionQueue, usesRealServiceBus } from './service-bus/connection.js';
import type { LocalServiceBus } from './service-bus/local-bus.js';
import type { HostLogger } from './types.js';

export interface OutputDispatcherOptions {
  bus: LocalServiceBus;
  logger: HostLogger;
  /** Topic name → subscription names that have a trigger locally (sending to a topic fans out to them). */
  topicSubscriptions: Map<string, string[]>;
  /** The project's real Service Bus sender, for bindings whose connection setting is present. */
  realSender?: () => MessageSender;
}

export type OutputDispatcher = (functionName: string, outputs: OutputValue[]) => Promise<void>;

/**
 * Writes a function's output bindings after it returns, as the host does. Service Bus outputs go to the
 * in-process queues (or the real namespace when configured); an array value is one message per element,
 * like the real binding. Bindings the host cannot serve are reported once, not silently dropped.
 */
export function createOutputDispatcher(options: OutputDispatcherOptions): OutputDispatcher {
  const warned = new Set<string>();
  return async (functionName, outputs) => {
    for (const { name, binding, value } of outputs) {
      if (binding.type !== 'serviceBus') {
        const key = `${functionName}/${name}`;
        if (!warned.has(key)) {
          warned.add(key);
          options.logger.warn(
            `${functionName}: output binding "${name}" of type ${binding.type} is not supported by the local host; its value was not written`,
          );
        }
        continue;
      }
      const messages = Array.isArray(value) ? (value as unknown[]) : [value];
      const queue = typeof binding.queueName === 'string' ? binding.queueName : undefined;
      const topic = typeof binding.topicName === 'string' ? binding.topicName : undefined;
      if (!queue && !topic)
        throw new Error(`${functionName}: output binding "${name}" names no queue or topic`);
      if (usesRealServiceBus(binding.connection)) {
        if (!options.realSender)
          throw new Error(`${functionName}: no Service Bus sender for binding "${name}"`);
        const sender = options.realSender();
        for (const body of messages) await sender.send(queue ?? topic!, { body });
        continue;
      }
      // The output binding sends a body only: no messageId (so no duplicate detection), no scheduling.
      const targets = queue
        ? [queue]
        : (options.topicSubscriptions.get(topic!.toLowerCase()) ?? []).map((s) =>
            subscriptionQueue(topic!, s),
          );
      if (targets.length === 0)
        options.logger.warn(`${functionName}: topic "${topic}" has no local subscriptions; message dropped`);
      for (const body of messages)
        for (const target of targets)
          options.bus.send(target, {
            body,
            contentType: typeof body === 'string' ? 'text/plain' : 'application/json',
          });
    }
  };
}

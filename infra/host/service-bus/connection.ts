/**
 * A Service Bus binding names an app setting (`connection: 'ServiceBusConnection'`); it points at a real
 * namespace when that setting, or its identity-based `__fullyQualifiedNamespace` form, is present.
 * Otherwise the local host serves the binding from its in-process queues.
 */
export function usesRealServiceBus(connection: unknown, env: NodeJS.ProcessEnv = process.env): boolean {
  const name = typeof connection === 'string' && connection ? connection : 'AzureWebJobsServiceBus';
  return Boolean(env[name] || env[`${name}__fullyQualifiedNamespace`]);
}

/** The queue a trigger or output binding addresses; a topic subscription is its own queue locally. */
export function entityName(binding: Record<string, unknown>): string | undefined {
  if (typeof binding.queueName === 'string') return binding.queueName;
  if (typeof binding.topicName === 'string' && typeof binding.subscriptionName === 'string')
    return subscriptionQueue(binding.topicName, binding.subscriptionName);
  if (typeof binding.topicName === 'string') return binding.topicName;
  return undefined;
}

export function subscriptionQueue(topic: string, subscription: string): string {
  return `${topic}/Subscriptions/${subscription}`;
}

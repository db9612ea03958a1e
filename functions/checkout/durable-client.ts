import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { OrchestrationClient } from '../../shared/services/checkout/orchestration-client.js';

/** The durable client input binding, declared once and shared by every function that needs it. */
export const durableClientInput = df.input.durableClient();

type ClientFactory = (invocation: InvocationContext) => OrchestrationClient;

let override: ClientFactory | undefined;

/**
 * The Durable Functions client of this invocation (from its `durableClient` input binding). Tests that
 * call handlers directly — without a host to fill the binding — install a stub with
 * `setOrchestrationClientForTests`.
 */
export function orchestrationClient(invocation: InvocationContext): OrchestrationClient {
  return override ? override(invocation) : df.getClient(invocation);
}

export function setOrchestrationClientForTests(factory: ClientFactory | undefined): void {
  override = factory;
}

import { ServiceUnavailableException } from '../../errors/index.js';
import type { Logger } from '../../logging/logger.js';
import { CHECKOUT_ORCHESTRATION, type CheckoutInput } from './checkout-types.js';

/**
 * The slice of the Durable Functions client the domain uses (durable-functions' DurableClient has this
 * shape). Declared here so shared/ stays free of the Functions SDK and tests can pass a stub.
 */
export interface OrchestrationClient {
  startNew(name: string, options: { instanceId: string; input: unknown }): Promise<string>;
  getStatus(instanceId: string): Promise<unknown>;
  raiseEvent(instanceId: string, eventName: string, eventData: unknown): Promise<void>;
}

/**
 * Starts the checkout orchestration for an order, with the order id as instance id. Starting is
 * harmless when the instance already exists (a retried request, or two racing ones): the host refuses
 * the second start, and we check the instance is there. Anything else is a 503 — the order is
 * committed, and a retry with the same Idempotency-Key starts it.
 */
export async function ensureCheckoutStarted(
  client: OrchestrationClient,
  input: CheckoutInput,
  log: Logger,
): Promise<void> {
  try {
    await client.startNew(CHECKOUT_ORCHESTRATION, { instanceId: input.orderId, input });
    return;
  } catch (startError) {
    try {
      if (await client.getStatus(input.orderId)) return;
    } catch {
      // Fall through: neither started nor found.
    }
    log.error(
      `checkout ${input.orderId}: orchestration could not be started`,
      startError instanceof Error ? startError.message : String(startError),
    );
    throw new ServiceUnavailableException(
      'The order was saved but processing could not start; retry with the same Idempotency-Key.',
    );
  }
}

import type { TriggerMetadata } from '@azure/functions';
import {
  collectOutputs,
  createInvocationContext,
  invokeWithHooks,
  type InputProvider,
} from '../invocation.js';
import { errorText } from '../log.js';
import type { OutputDispatcher } from '../outputs.js';
import type { HostLogger, RegisteredFunction } from '../types.js';
import type { BusMessage, QueueListener } from './local-bus.js';

/** What the Node worker hands a Service Bus trigger: JSON bodies parsed, other text as a string. */
export function triggerValue(message: BusMessage): unknown {
  const body = message.body;
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : undefined;
  if (text === undefined) return body;
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

function metadataOf(message: BusMessage): Record<string, unknown> {
  return {
    messageId: message.messageId,
    deliveryCount: message.deliveryCount,
    sequenceNumber: message.sequenceNumber,
    enqueuedTimeUtc: message.enqueuedTime.toISOString(),
    lockedUntilUtc: message.lockedUntil?.toISOString(),
    lockToken: message.lockToken,
    contentType: message.contentType,
    applicationProperties: message.applicationProperties,
    userProperties: message.applicationProperties,
    ...(message.scheduledEnqueueTime
      ? { scheduledEnqueueTimeUtc: message.scheduledEnqueueTime.toISOString() }
      : {}),
  };
}

/** Batch triggers get the same fields as arrays (`messageIdArray`, `deliveryCountArray`, …). */
function batchMetadata(messages: BusMessage[]): TriggerMetadata {
  const single = messages.map(metadataOf);
  const keys = new Set(single.flatMap((m) => Object.keys(m)));
  const out: TriggerMetadata = {};
  for (const key of keys) out[`${key}Array`] = single.map((m) => m[key]);
  return out;
}

export interface TriggerDeps {
  logger: HostLogger;
  inputs: InputProvider;
  dispatchOutputs: OutputDispatcher;
}

/** Adapts a `serviceBusTrigger` function to a queue listener; a throw makes the bus redeliver. */
export function serviceBusListener(fn: RegisteredFunction, deps: TriggerDeps): QueueListener {
  const many = fn.trigger.cardinality === 'many';
  return {
    name: fn.name,
    cardinality: many ? 'many' : 'one',
    async handle(messages) {
      const first = messages[0]!;
      const context = createInvocationContext(fn, deps.logger, deps.inputs, {
        triggerMetadata: many ? batchMetadata(messages) : metadataOf(first),
      });
      const input = many ? messages.map(triggerValue) : triggerValue(first);
      const started = Date.now();
      deps.logger.info(
        `Executing 'Functions.${fn.name}' (Reason='New ServiceBus message detected', Id=${context.invocationId}, MessageId=${first.messageId}, DeliveryCount=${first.deliveryCount})`,
      );
      try {
        const result = await invokeWithHooks(fn, [input], context);
        await deps.dispatchOutputs(fn.name, collectOutputs(fn, context, result));
      } catch (error) {
        deps.logger.error(
          `Executed 'Functions.${fn.name}' (Failed, Id=${context.invocationId}, Duration=${Date.now() - started}ms): ${errorText(error)}`,
        );
        throw error;
      }
      deps.logger.info(
        `Executed 'Functions.${fn.name}' (Succeeded, Id=${context.invocationId}, Duration=${Date.now() - started}ms)`,
      );
    },
  };
}

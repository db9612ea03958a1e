import { randomUUID } from 'node:crypto';
import {
  InvocationContext,
  type EffectiveFunctionOptions,
  type FunctionInput,
  type FunctionOutput,
  type FunctionTrigger,
  type RetryContext,
  type TriggerMetadata,
} from '@azure/functions';
import { hookCallbacks } from './core-api.js';
import { functionLogHandler } from './log.js';
import type { BindingInfo, HostLogger, RegisteredFunction } from './types.js';

export const RETURN_BINDING = '$return';

const isTrigger = (type: string): boolean => /trigger$/i.test(type);

/** Rebuilds `context.options` from the metadata, the way the worker's fromRpcBindings does. */
export function effectiveOptions(fn: RegisteredFunction): EffectiveFunctionOptions {
  let trigger: FunctionTrigger | undefined;
  let returnBinding: FunctionOutput | undefined;
  const extraInputs: FunctionInput[] = [];
  const extraOutputs: FunctionOutput[] = [];
  for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
    const withName = { ...binding, name };
    if (isTrigger(binding.type)) trigger = withName;
    else if (name === RETURN_BINDING) returnBinding = withName;
    else if (binding.direction === 'in') extraInputs.push(withName);
    else if (binding.direction === 'out') extraOutputs.push(withName);
  }
  return {
    trigger: trigger ?? { ...fn.trigger },
    ...(returnBinding ? { return: returnBinding } : {}),
    extraInputs,
    extraOutputs,
  };
}

export const isDurableClientBinding = (binding: { type: string }): boolean =>
  binding.type === 'durableClient' || binding.type === 'orchestrationClient';

/** Supplies values for extra inputs the host understands (today: the durable client). */
export interface InputProvider {
  durableClient?: () => unknown;
}

export interface ContextInit {
  invocationId?: string;
  triggerMetadata?: TriggerMetadata;
  retryContext?: RetryContext;
}

export function createInvocationContext(
  fn: RegisteredFunction,
  logger: HostLogger,
  inputs: InputProvider,
  init: ContextInit = {},
): InvocationContext {
  const options = effectiveOptions(fn);
  const context = new InvocationContext({
    invocationId: init.invocationId ?? randomUUID(),
    functionName: fn.name,
    logHandler: functionLogHandler(logger, fn.name),
    options,
    ...(init.triggerMetadata ? { triggerMetadata: init.triggerMetadata } : {}),
    ...(init.retryContext ? { retryContext: init.retryContext } : {}),
  });
  for (const input of options.extraInputs) {
    if (isDurableClientBinding(input) && inputs.durableClient)
      context.extraInputs.set(input, inputs.durableClient());
  }
  return context;
}

/**
 * Calls the handler the way the worker does, pre/post invocation hooks included: a pre hook may swap the
 * handler or the inputs, a post hook may replace the result or the error.
 */
export async function invokeWithHooks(
  fn: RegisteredFunction,
  inputs: unknown[],
  context: InvocationContext,
): Promise<unknown> {
  const hookData: Record<string, unknown> = {};
  const pre: Record<string, unknown> = {
    hookData,
    inputs,
    invocationContext: context,
    functionCallback: fn.handler,
  };
  for (const hook of hookCallbacks('preInvocation')) await hook(pre);
  let result: unknown;
  let error: unknown;
  try {
    const handler = pre.functionCallback as (...args: unknown[]) => unknown;
    result = await handler(...(pre.inputs as unknown[]), context);
  } catch (e) {
    error = e ?? new Error('The function threw a nullish value');
  }
  const post: Record<string, unknown> = {
    hookData,
    inputs: pre.inputs,
    invocationContext: context,
    result,
    error,
  };
  for (const hook of hookCallbacks('postInvocation')) await hook(post);
  // Rethrown exactly as the function (or a post hook) threw it, Error or not.
  // eslint-disable-next-line @typescript-eslint/only-throw-error
  if (post.error !== undefined && post.error !== null) throw post.error;
  return post.result;
}

export interface OutputValue {
  name: string;
  binding: BindingInfo;
  value: unknown;
}

/** Values written to non-HTTP output bindings: `$return` from the result, others from `context.extraOutputs`. */
export function collectOutputs(
  fn: RegisteredFunction,
  context: InvocationContext,
  result: unknown,
): OutputValue[] {
  const out: OutputValue[] = [];
  for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
    if (binding.direction !== 'out' || binding.type.toLowerCase() === 'http') continue;
    const value = name === RETURN_BINDING ? result : context.extraOutputs.get(name);
    if (value !== undefined && value !== null) out.push({ name, binding, value });
  }
  return out;
}

/** The binding that carries the HTTP response (normally `$return`). */
export function httpOutputName(fn: RegisteredFunction): string | undefined {
  return Object.entries(fn.metadata.bindings).find(
    ([, b]) => b.direction === 'out' && b.type.toLowerCase() === 'http',
  )?.[0];
}

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
import type { BindingInfo, HostLogger, LogLevel, RegisteredFunction } from './types.js';

export const RETURN_BINDING = '$return';

const isTrigger = (type: string): boolean => /trigger$/i.test(type);

/** Rebuilds `context.options` from the metadata, the way the worker's fromRpcBindings does. */
export function effectiveOptions(fn: RegisteredFunction): EffectiveFunctionOptions {
  return copyOptions(profileOf(fn).options);
}

/**
 * What the host derives from a function's metadata, once per function rather than once per
 * invocation: the metadata does not change after registration, and re-deriving it for every request
 * showed in the profile of cached reads.
 */
interface FunctionProfile {
  /** Template for `context.options`; each invocation gets its own copy (a handler may mutate it). */
  options: EffectiveFunctionOptions;
  /** Non-HTTP output bindings, the ones written after the function returns. */
  outputs: [string, BindingInfo][];
  /** The binding that carries the HTTP response. */
  httpOutput: string | undefined;
  /** One log handler per host logger (the host has one; tests may start several). */
  logHandlers: Map<HostLogger, (level: LogLevel, ...args: unknown[]) => void>;
}

const profiles = new WeakMap<RegisteredFunction, FunctionProfile>();

function profileOf(fn: RegisteredFunction): FunctionProfile {
  let profile = profiles.get(fn);
  if (profile) return profile;
  let trigger: FunctionTrigger | undefined;
  let returnBinding: FunctionOutput | undefined;
  const extraInputs: FunctionInput[] = [];
  const extraOutputs: FunctionOutput[] = [];
  const outputs: [string, BindingInfo][] = [];
  let httpOutput: string | undefined;
  for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
    const withName = { ...binding, name };
    if (isTrigger(binding.type)) trigger = withName;
    else if (name === RETURN_BINDING) returnBinding = withName;
    else if (binding.direction === 'in') extraInputs.push(withName);
    else if (binding.direction === 'out') extraOutputs.push(withName);
    if (binding.direction === 'out') {
      if (binding.type.toLowerCase() !== 'http') outputs.push([name, binding]);
      else httpOutput ??= name;
    }
  }
  profile = {
    options: {
      trigger: trigger ?? { ...fn.trigger },
      ...(returnBinding ? { return: returnBinding } : {}),
      extraInputs,
      extraOutputs,
    },
    outputs,
    httpOutput,
    logHandlers: new Map(),
  };
  profiles.set(fn, profile);
  return profile;
}

function copyOptions(template: EffectiveFunctionOptions): EffectiveFunctionOptions {
  return {
    trigger: { ...template.trigger },
    ...(template.return ? { return: { ...template.return } } : {}),
    extraInputs: template.extraInputs.map((b) => ({ ...b })),
    extraOutputs: template.extraOutputs.map((b) => ({ ...b })),
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
  const profile = profileOf(fn);
  let logHandler = profile.logHandlers.get(logger);
  if (!logHandler) {
    logHandler = functionLogHandler(logger, fn.name);
    profile.logHandlers.set(logger, logHandler);
  }
  const options = copyOptions(profile.options);
  const context = new InvocationContext({
    invocationId: init.invocationId ?? randomUUID(),
    functionName: fn.name,
    logHandler,
    options,
    ...(init.triggerMetadata ? { triggerMetadata: init.triggerMetadata } : {}),
    ...(init.retryContext ? { retryContext: init.retryContext } : {}),
  });
  for (const input of options.extraInputs) {
    if (inputs.durableClient && isDurableClientBinding(input))
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
  const preHooks = hookCallbacks('preInvocation');
  const postHooks = hookCallbacks('postInvocation');
  if (preHooks.length === 0 && postHooks.length === 0) {
    // No hooks registered (the usual case): the same call and the same error rule, without the hook
    // objects.
    try {
      return await fn.handler(...inputs, context);
    } catch (e) {
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      throw e ?? new Error('The function threw a nullish value');
    }
  }
  const hookData: Record<string, unknown> = {};
  const pre: Record<string, unknown> = {
    hookData,
    inputs,
    invocationContext: context,
    functionCallback: fn.handler,
  };
  for (const hook of preHooks) await hook(pre);
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
  for (const hook of postHooks) await hook(post);
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
  for (const [name, binding] of profileOf(fn).outputs) {
    const value = name === RETURN_BINDING ? result : context.extraOutputs.get(name);
    if (value !== undefined && value !== null) out.push({ name, binding, value });
  }
  return out;
}

/** The binding that carries the HTTP response (normally `$return`). */
export function httpOutputName(fn: RegisteredFunction): string | undefined {
  return profileOf(fn).httpOutput;
}

import Module from 'node:module';
import type { BindingInfo, FunctionCallback, FunctionMetadata, RegisteredFunction } from './types.js';

/**
 * The stand-in for `@azure/functions-core`, the module the Azure worker injects into the app's process.
 * `@azure/functions` looks it up lazily at its first `app.*` call and caches a failed lookup (switching to
 * "test mode" for good), so `installFunctionsCore()` must run before any function module is loaded.
 *
 * Registrations are process-wide, like the worker's: a module is evaluated once per process, so a host
 * started a second time in the same process (a restart test) sees the functions registered the first time.
 */

export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';
export type HookCallback = (context: Record<string, unknown>) => unknown;

class Disposable {
  #callback: (() => void) | undefined;
  constructor(callback: () => void) {
    this.#callback = callback;
  }
  dispose(): void {
    this.#callback?.();
    this.#callback = undefined;
  }
}

const functions = new Map<string, RegisteredFunction>();
/** True while `loadReplacements` runs: a registration may then take over a name already registered. */
let replacing = false;
const hooks: Record<HookName, HookCallback[]> = {
  appStart: [],
  appTerminate: [],
  preInvocation: [],
  postInvocation: [],
  log: [],
};
let programmingModel: unknown;
const appHookData: Record<string, unknown> = {};

function isTriggerType(type: string): boolean {
  return /trigger$/i.test(type);
}

function registerFunction(metadata: FunctionMetadata, handler: FunctionCallback): Disposable {
  if (!metadata || typeof metadata.name !== 'string' || typeof handler !== 'function')
    throw new TypeError('registerFunction(metadata, callback): invalid arguments');
  if (functions.has(metadata.name) && !replacing)
    throw new Error(`A function with the name "${metadata.name}" has already been registered.`);
  const entry = Object.entries(metadata.bindings ?? {}).find(([, b]) => isTriggerType(String(b.type)));
  if (!entry) throw new Error(`Function "${metadata.name}" has no trigger binding.`);
  const [triggerName, trigger] = entry;
  const registered: RegisteredFunction = {
    name: metadata.name,
    metadata,
    handler,
    trigger: { ...trigger, name: triggerName } as BindingInfo & { name: string },
  };
  functions.set(metadata.name, registered);
  return new Disposable(() => functions.delete(metadata.name));
}

function registerHook(name: string, callback: HookCallback): Disposable {
  const list = hooks[name as HookName];
  // The real worker answers an unknown hook name with a RangeError; @azure/functions relies on it for `log`.
  if (!list) throw new RangeError(`Unrecognized hook "${name}"`);
  list.push(callback);
  return new Disposable(() => {
    const index = list.indexOf(callback);
    if (index >= 0) list.splice(index, 1);
  });
}

/** The module object `require('@azure/functions-core')` returns inside the local host. */
export const functionsCore = Object.freeze({
  version: '3.10.1-local',
  hostVersion: '4.0.0-local',
  Disposable,
  registerFunction,
  registerHook,
  setProgrammingModel(model: unknown): void {
    programmingModel = model;
  },
  getProgrammingModel(): unknown {
    return programmingModel;
  },
  // Its presence tells @azure/functions the host is new enough for `app.setup({ enableHttpStream })`.
  log(level: string, category: string, message: string): void {
    if (level === 'error' || level === 'warning') console.error(`[functions ${category}] ${message}`);
  },
});

const CORE_MODULE = '@azure/functions-core';
let installed = false;

interface ModuleInternals {
  _load(request: string, parent: unknown, isMain: boolean): unknown;
}

/** Installs the require hook (idempotent). Must run before the first `app.*` call in this process. */
export function installFunctionsCore(): void {
  if (installed) return;
  const internals = Module as unknown as ModuleInternals;
  const originalLoad = internals._load.bind(Module);
  internals._load = (request: string, parent: unknown, isMain: boolean): unknown => {
    if (request === CORE_MODULE) return functionsCore;
    return originalLoad(request, parent, isMain);
  };
  installed = true;
}

/**
 * Runs `load` (which requires modules) with re-registration allowed: a function registered under a name
 * already taken replaces the earlier one. Test-only (HostOptions.replacements): it stands in for a deploy
 * that shipped changed code for a function while its durable instances were in flight. The worker has no
 * such thing — on Azure the deploy replaces the files — so nothing else may call it.
 */
export async function loadReplacements(load: () => Promise<unknown>): Promise<void> {
  replacing = true;
  try {
    await load();
  } finally {
    replacing = false;
  }
}

export function registeredFunctions(): RegisteredFunction[] {
  return [...functions.values()];
}

export function hookCallbacks(name: HookName): readonly HookCallback[] {
  return hooks[name];
}

/** Runs app-level hooks (appStart/appTerminate) in registration order. */
export async function runAppHooks(name: 'appStart' | 'appTerminate'): Promise<void> {
  // Like the worker, app-level hooks share one hookData object (appStart can hand things to appTerminate).
  for (const hook of hooks[name]) await hook({ hookData: appHookData });
}

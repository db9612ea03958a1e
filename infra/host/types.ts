// Shapes exchanged between @azure/functions and the stand-in `@azure/functions-core`, declared here because
// the real worker's type package is not installed (it ships inside the Azure worker). Only the fields the
// local host reads are typed; everything else passes through untouched.

/** One binding as `toCoreFunctionMetadata` writes it: the options object plus `direction` and `type`. */
export interface BindingInfo {
  type: string;
  direction?: 'in' | 'out' | 'inout';
  name?: string;
  [property: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingInfo>;
  retryOptions?: RetryPolicy;
}

/** `app.*({ retry })` as the library converts it (durations become `{ seconds, nanos }`). */
export interface RetryPolicy {
  retryStrategy?: 'fixedDelay' | 'exponentialBackoff';
  maxRetryCount?: number;
  delayInterval?: RpcDuration;
  minimumInterval?: RpcDuration;
  maximumInterval?: RpcDuration;
}

export interface RpcDuration {
  seconds?: number | string;
  nanos?: number;
}

/** The handler exactly as registered: the user's function, or a durable-functions wrapper. */
export type FunctionCallback = (...args: unknown[]) => unknown;

export interface RegisteredFunction {
  readonly name: string;
  readonly metadata: FunctionMetadata;
  readonly handler: FunctionCallback;
  /** The binding whose type ends in "Trigger". */
  readonly trigger: BindingInfo & { name: string };
}

export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

/** Where the host writes its own lines and the functions' `context.log` output. */
export interface HostLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

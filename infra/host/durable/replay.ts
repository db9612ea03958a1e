import { randomUUID } from 'node:crypto';
import { createInvocationContext } from '../invocation.js';
import type { HostLogger, RegisteredFunction } from '../types.js';
import { flattenActions, type FlatActions } from './actions.js';
import { EventType, type HistoryEvent } from './history.js';

/** durable-functions' ReplaySchema.V2: cumulative actions, compound Task.all/any, no long-timer splitting. */
export const UPPER_SCHEMA_VERSION = 1;

const OUT_OF_PROC_MARKER = '$OutOfProcData$:';

export interface FailureInfo {
  message: string;
  errorType?: string;
  stackTrace?: string;
}

export type EpisodeResult =
  | {
      kind: 'running' | 'completed';
      output: unknown;
      customStatus: unknown;
      actions: FlatActions;
    }
  | { kind: 'failed'; failure: FailureInfo; customStatus: unknown };

interface StateJson {
  isDone?: boolean;
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  actions?: unknown;
  failureDetails?: { ErrorType?: string; ErrorMessage?: string; StackTrace?: string };
}

/**
 * Runs one orchestrator episode: hands the wrapper registered by `df.app.orchestration` the whole
 * history (the trigger input the Durable extension would send) and reads back its state. The wrapper
 * reports a throwing orchestrator by throwing an error whose message ends with the state JSON.
 */
export async function runEpisode(options: {
  fn: RegisteredFunction;
  logger: HostLogger;
  instanceId: string;
  input: unknown;
  history: HistoryEvent[];
}): Promise<EpisodeResult> {
  const lastStart = options.history.map((e) => e.EventType).lastIndexOf(EventType.OrchestratorStarted);
  const trigger = {
    // A fresh copy each time: the library turns Timestamp strings into Dates in place.
    history: JSON.parse(JSON.stringify(options.history)) as unknown[],
    input: options.input,
    instanceId: options.instanceId,
    isReplaying: lastStart > 0,
    parentInstanceId: '',
    upperSchemaVersion: UPPER_SCHEMA_VERSION,
    longRunningTimerIntervalDuration: '3.00:00:00',
    maximumShortTimerDuration: '6.00:00:00',
    defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
  };
  const context = createInvocationContext(options.fn, options.logger, {}, { invocationId: randomUUID() });
  let state: StateJson & { actions?: unknown };
  try {
    state = (await options.fn.handler(trigger, context)) as StateJson;
  } catch (error) {
    return { kind: 'failed', ...failureFromThrow(error) };
  }
  if (!state || typeof state !== 'object')
    return {
      kind: 'failed',
      failure: { message: 'The orchestrator wrapper returned no state' },
      customStatus: undefined,
    };
  return {
    kind: state.isDone ? 'completed' : 'running',
    output: state.output,
    customStatus: state.customStatus,
    actions: flattenActions(state.actions),
  };
}

function failureFromThrow(error: unknown): { failure: FailureInfo; customStatus: unknown } {
  const message = error instanceof Error ? error.message : String(error);
  const index = message.indexOf(OUT_OF_PROC_MARKER);
  if (index >= 0) {
    try {
      const state = JSON.parse(message.slice(index + OUT_OF_PROC_MARKER.length)) as StateJson;
      const details = state.failureDetails;
      return {
        failure: {
          message: state.error ?? details?.ErrorMessage ?? 'The orchestrator failed',
          ...(details?.ErrorType ? { errorType: details.ErrorType } : {}),
          ...((details?.StackTrace ?? (error as Error).stack)
            ? { stackTrace: details?.StackTrace ?? (error as Error).stack }
            : {}),
        },
        customStatus: state.customStatus,
      };
    } catch {
      // fall through: report the raw message
    }
  }
  return {
    failure: {
      message,
      ...(error instanceof Error ? { errorType: error.name } : {}),
      ...(error instanceof Error && error.stack ? { stackTrace: error.stack } : {}),
    },
    customStatus: undefined,
  };
}

/**
 * The orchestrator's output lists actions (replay schema V2: one cumulative list for the whole
 * execution, `Task.all`/`Task.any` as compound actions). Flattened depth-first they line up with the
 * sequence ids the library assigns, except that external-event waits take no id.
 */

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

const UNSUPPORTED: Record<number, string> = {
  [ActionType.CallSubOrchestrator]: 'sub-orchestrations (callSubOrchestrator)',
  [ActionType.CallSubOrchestratorWithRetry]: 'sub-orchestrations (callSubOrchestratorWithRetry)',
  [ActionType.CallEntity]: 'durable entities (callEntity)',
  [ActionType.CallHttp]: 'durable HTTP (callHttp)',
  [ActionType.SignalEntity]: 'durable entities (signalEntity)',
  [ActionType.LockEntities]: 'entity locks',
  [ActionType.ReleaseEntities]: 'entity locks',
};

export interface RetryOptionsShape {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export type ScheduledAction =
  | { kind: 'activity'; name: string; input: unknown; retry: RetryOptionsShape | undefined }
  | { kind: 'timer'; fireAt: Date; isCanceled: boolean };

export interface FlatActions {
  scheduled: ScheduledAction[];
  continueAsNew: { input: unknown } | undefined;
  unsupported: string | undefined;
}

interface RawAction {
  actionType?: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryOptionsShape;
  fireAt?: Date | string;
  isCanceled?: boolean;
  compoundActions?: RawAction[];
}

/** The library JSON-encodes string inputs a second time (`Utils.processInput`); undo it. */
export function decodeActionInput(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input) as unknown;
  } catch {
    return input;
  }
}

/**
 * Flattens the live action objects. The same action object can appear twice (a task yielded alone and
 * later inside Task.all): the library gives it one id, so only its first appearance counts.
 */
export function flattenActions(actions: unknown): FlatActions {
  const result: FlatActions = { scheduled: [], continueAsNew: undefined, unsupported: undefined };
  const seen = new Set<object>();
  const visit = (action: RawAction): void => {
    if (!action || typeof action !== 'object' || seen.has(action)) return;
    seen.add(action);
    switch (action.actionType) {
      case ActionType.WhenAll:
      case ActionType.WhenAny:
        (action.compoundActions ?? []).forEach(visit);
        return;
      case ActionType.WaitForExternalEvent:
        return;
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry:
        result.scheduled.push({
          kind: 'activity',
          name: String(action.functionName),
          input: decodeActionInput(action.input),
          retry: action.actionType === ActionType.CallActivityWithRetry ? action.retryOptions : undefined,
        });
        return;
      case ActionType.CreateTimer:
        result.scheduled.push({
          kind: 'timer',
          fireAt: new Date(action.fireAt ?? Date.now()),
          isCanceled: action.isCanceled === true,
        });
        return;
      case ActionType.ContinueAsNew:
        result.continueAsNew = { input: decodeActionInput(action.input) };
        return;
      default:
        result.unsupported ??= UNSUPPORTED[action.actionType ?? -1] ?? `action type ${action.actionType}`;
    }
  };
  const outer = Array.isArray(actions) ? (actions as unknown[]) : [];
  for (const group of outer)
    for (const action of Array.isArray(group) ? group : [group]) visit(action as RawAction);
  return result;
}

/** Delay before retry attempt `attempt + 1`, as DTFx computes it from RetryOptions. */
export function retryDelayMs(options: RetryOptionsShape, attempt: number): number {
  const coefficient =
    options.backoffCoefficient && options.backoffCoefficient > 0 ? options.backoffCoefficient : 1;
  const delay = options.firstRetryIntervalInMilliseconds * coefficient ** (attempt - 1);
  const cap = options.maxRetryIntervalInMilliseconds;
  return Math.max(0, cap && cap > 0 ? Math.min(delay, cap) : delay);
}

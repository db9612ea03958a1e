/**
 * Durable Task history events in the PascalCase wire shape the durable-functions library replays
 * (`EventType` numbers from DTFx). Stored as JSON; `Timestamp` is an ISO string that the library turns
 * back into a Date.
 */

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventRaised: 15,
  ContinueAsNew: 16,
} as const;

export type EventTypeName = keyof typeof EventType;

export interface FailureDetailsWire {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable?: boolean;
  Properties?: Record<string, unknown>;
}

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string;
  Result?: string;
  Reason?: string;
  Details?: string;
  FailureDetails?: FailureDetailsWire;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  OrchestrationStatus?: string;
}

const base = (type: number, eventId = -1, at: Date = new Date()): HistoryEvent => ({
  EventType: type,
  EventId: eventId,
  IsPlayed: false,
  Timestamp: at.toISOString(),
});

/** JSON text for an event payload, or undefined for "no value" (the library treats a missing Input as undefined). */
export function jsonText(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

export const events = {
  orchestratorStarted: (at: Date): HistoryEvent => base(EventType.OrchestratorStarted, -1, at),
  orchestratorCompleted: (at: Date): HistoryEvent => base(EventType.OrchestratorCompleted, -1, at),
  executionStarted: (name: string, input: string | undefined, at: Date): HistoryEvent => ({
    ...base(EventType.ExecutionStarted, -1, at),
    Name: name,
    ...(input !== undefined ? { Input: input } : {}),
  }),
  executionCompleted: (status: string, result: string | undefined, at: Date): HistoryEvent => ({
    ...base(EventType.ExecutionCompleted, -1, at),
    OrchestrationStatus: status,
    ...(result !== undefined ? { Result: result } : {}),
  }),
  executionTerminated: (reason: string | undefined, at: Date): HistoryEvent => ({
    ...base(EventType.ExecutionTerminated, -1, at),
    ...(reason !== undefined ? { Input: reason } : {}),
  }),
  taskScheduled: (id: number, name: string, input: string | undefined, at: Date): HistoryEvent => ({
    ...base(EventType.TaskScheduled, id, at),
    Name: name,
    ...(input !== undefined ? { Input: input } : {}),
  }),
  taskCompleted: (scheduledId: number, result: string, at: Date): HistoryEvent => ({
    ...base(EventType.TaskCompleted, -1, at),
    TaskScheduledId: scheduledId,
    Result: result,
  }),
  taskFailed: (
    scheduledId: number,
    reason: string,
    details: string,
    failureDetails: FailureDetailsWire | undefined,
    at: Date,
  ): HistoryEvent => ({
    ...base(EventType.TaskFailed, -1, at),
    TaskScheduledId: scheduledId,
    // The library needs both strings to build the error when there are no FailureDetails.
    Reason: reason,
    Details: details,
    ...(failureDetails ? { FailureDetails: failureDetails } : {}),
  }),
  timerCreated: (id: number, fireAt: Date, at: Date): HistoryEvent => ({
    ...base(EventType.TimerCreated, id, at),
    FireAt: fireAt.toISOString(),
  }),
  timerFired: (timerId: number, fireAt: Date): HistoryEvent => ({
    ...base(EventType.TimerFired, -1, fireAt),
    TimerId: timerId,
    FireAt: fireAt.toISOString(),
  }),
  eventRaised: (name: string, input: string | undefined, at: Date): HistoryEvent => ({
    ...base(EventType.EventRaised, -1, at),
    Name: name,
    ...(input !== undefined ? { Input: input } : {}),
  }),
};

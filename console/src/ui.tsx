import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, type Problem } from './api';

/** The field errors of a problem for one field (the API names fields like `body.delta` or `delta`). */
export function fieldErrors(problem: Problem | undefined, field: string): string[] {
  return (problem?.errors ?? [])
    .filter((e) => e.field === field || e.field.endsWith(`.${field}`))
    .map((e) => e.message);
}

/**
 * A problem+json shown as the API wrote it: title, detail, and the field errors no form field shows.
 * `role=alert` makes screen readers announce it; focus moves to it so keyboard users land on it.
 */
export function ProblemView(props: { problem: Problem | undefined; fields?: string[] }): JSX.Element | null {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (props.problem) ref.current?.focus();
  }, [props.problem]);
  if (!props.problem) return null;
  const { title, detail, status, correlationId } = props.problem;
  const shown = new Set(props.fields ?? []);
  const others = (props.problem.errors ?? []).filter(
    (e) => ![...shown].some((f) => e.field === f || e.field.endsWith(`.${f}`)),
  );
  return (
    <div class="problem" role="alert" tabIndex={-1} ref={ref}>
      <p class="problem-title">
        {title}
        {status ? <span class="problem-status"> ({status})</span> : null}
      </p>
      {detail ? <p class="problem-detail">{detail}</p> : null}
      {others.length > 0 ? (
        <ul>
          {others.map((e) => (
            <li key={e.field + e.message}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      {correlationId ? <p class="problem-id">Correlation id: {correlationId}</p> : null}
    </div>
  );
}

let fieldCounter = 0;

/** A labelled input whose API errors sit right under it, tied to it with aria-describedby. */
export function Field(props: {
  label: string;
  name: string;
  problem?: Problem | undefined;
  hint?: string;
  children: (attrs: {
    id: string;
    name: string;
    'aria-invalid': boolean;
    'aria-describedby': string | undefined;
  }) => ComponentChildren;
}): JSX.Element {
  const idRef = useRef(`f${++fieldCounter}-${props.name}`);
  const id = idRef.current;
  const errors = fieldErrors(props.problem, props.name);
  const describedBy = [props.hint ? `${id}-hint` : '', errors.length ? `${id}-err` : '']
    .filter(Boolean)
    .join(' ');
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.children({
        id,
        name: props.name,
        'aria-invalid': errors.length > 0,
        'aria-describedby': describedBy || undefined,
      })}
      {props.hint ? (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {errors.length ? (
        <p class="field-error" id={`${id}-err`}>
          {errors.join(' ')}
        </p>
      ) : null}
    </div>
  );
}

/** A screen's heading, focused when the screen opens so a screen reader announces where we are. */
export function ScreenTitle(props: { children: ComponentChildren }): JSX.Element {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {props.children}
    </h1>
  );
}

export function Loading(props: { what: string }): JSX.Element {
  return (
    <p class="loading" role="status">
      Loading {props.what}…
    </p>
  );
}

/** Raw form values by name (every control the console uses is a text-like input or a select). */
export function formValues(event: Event): Record<string, string> {
  event.preventDefault();
  const data = new FormData(event.currentTarget as HTMLFormElement);
  const out: Record<string, string> = {};
  for (const [key, value] of data.entries()) if (typeof value === 'string') out[key] = value;
  return out;
}

let announceTo: ((message: string) => void) | undefined;

/** Tells a screen reader (and the eye, in the status bar) that something finished. */
export function announce(message: string): void {
  announceTo?.(message);
}

/** The one polite live region of the app: outcomes of actions are read out without moving focus. */
export function LiveRegion(): JSX.Element {
  const [message, setMessage] = useState('');
  useEffect(() => {
    announceTo = (text) => {
      // Emptied first so the same message twice is announced twice.
      setMessage('');
      setTimeout(() => setMessage(text), 30);
    };
    return () => {
      announceTo = undefined;
    };
  }, []);
  return (
    <div class="announcement" role="status" aria-live="polite" aria-atomic="true">
      {message}
    </div>
  );
}

type Answer<T> = Promise<{ data?: T; error?: unknown; response: Response }>;

/**
 * One form's round trip: busy while the request runs, then either the data or the API's problem kept
 * for the form to show (field errors next to their fields).
 */
export function useAction(): {
  problem: Problem | undefined;
  setProblem: (problem: Problem | undefined) => void;
  busy: boolean;
  run: <T>(request: () => Answer<T>) => ReturnType<typeof call<T>>;
} {
  const [problem, setProblem] = useState<Problem | undefined>();
  const [busy, setBusy] = useState(false);
  const run = async <T,>(request: () => Answer<T>): ReturnType<typeof call<T>> => {
    setBusy(true);
    const result = await call(request());
    setBusy(false);
    setProblem(result.ok ? undefined : result.problem);
    return result;
  };
  return { problem, setProblem, busy, run };
}

/** "Previous" / "next" over keyset pages: the cursors seen so far make a way back without offsets. */
export function Pager(props: {
  label: string;
  cursors: (string | undefined)[];
  setCursors: (cursors: (string | undefined)[]) => void;
  nextCursor: string | null | undefined;
  loading: boolean;
}): JSX.Element {
  const { cursors, setCursors, nextCursor, loading } = props;
  return (
    <nav class="pager" aria-label={props.label}>
      <button
        type="button"
        class="secondary"
        disabled={cursors.length === 1 || loading}
        onClick={() => setCursors(cursors.slice(0, -1))}
      >
        Previous page
      </button>
      <span>Page {cursors.length}</span>
      <button
        type="button"
        disabled={!nextCursor || loading}
        onClick={() => nextCursor && setCursors([...cursors, nextCursor])}
      >
        Next page
      </button>
    </nav>
  );
}

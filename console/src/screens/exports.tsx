import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, type ApiClient, type Problem, type Schemas } from '../api';
import { dateTime, dayStart } from '../format';
import { Field, ProblemView, ScreenTitle, announce, formValues, useAction } from '../ui';
import { StatusSelect } from './orders';

type ExportStatus = Schemas['ExportStatus'];
const FIELDS = ['from', 'to', 'status'];

interface Requested {
  id: string;
  from: string;
  to: string;
}

/** The exports requested in this tab: kept with the session in memory, not on the server's list. */
const requested: Requested[] = [];

export function ExportsScreen(props: { api: ApiClient }): JSX.Element {
  const [items, setItems] = useState<Requested[]>(() => [...requested]);
  const { problem, busy, run } = useAction();

  const submit = async (event: Event): Promise<void> => {
    const v = formValues(event);
    const from = dayStart(v.from ?? '') ?? v.from ?? '';
    const to = dayStart(v.to ?? '', true) ?? v.to ?? '';
    const result = await run(() =>
      props.api.POST('/manage/orders/exports', {
        body: { from, to, ...(v.status ? { status: v.status as ExportStatusFilter } : {}) },
      }),
    );
    if (!result.ok) return;
    requested.unshift({ id: result.data.exportId, from: v.from ?? '', to: v.to ?? '' });
    setItems([...requested]);
    announce('Export requested.');
  };

  return (
    <section>
      <ScreenTitle>Order exports</ScreenTitle>
      <form class="filters" aria-label="Request an export" onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <Field label="From (UTC day)" name="from" problem={problem}>
          {(a) => <input {...a} type="date" required />}
        </Field>
        <Field label="To (UTC day, included)" name="to" problem={problem}>
          {(a) => <input {...a} type="date" required />}
        </Field>
        <StatusSelect problem={problem} />
        <button type="submit" disabled={busy}>
          Request export
        </button>
      </form>
      <ProblemView problem={problem} fields={FIELDS} />
      <h2>Requested in this session</h2>
      {items.length === 0 ? <p class="muted">None yet.</p> : null}
      <ul class="exports">
        {items.map((item) => (
          <ExportItem key={item.id} api={props.api} item={item} />
        ))}
      </ul>
    </section>
  );
}

type ExportStatusFilter = NonNullable<Schemas['ExportRequest']['status']>;

/** Polls until the export settles (backing off to 5 s), then shows the link until it expires. */
function ExportItem(props: { api: ApiClient; item: Requested }): JSX.Element {
  const [status, setStatus] = useState<ExportStatus | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [now, setNow] = useState(Date.now());
  const [refresh, setRefresh] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delay = 500;
    const poll = async (): Promise<void> => {
      const result = await call(
        props.api.GET('/manage/orders/exports/{id}', { params: { path: { id: props.item.id } } }),
      );
      if (stopped) return;
      if (!result.ok) return setProblem(result.problem);
      setProblem(undefined);
      setStatus(result.data);
      setNow(Date.now());
      if (result.data.status === 'completed' || result.data.status === 'failed') {
        announce(`Export ${result.data.status}: ${result.data.rowsExported} rows.`);
        return;
      }
      delay = Math.min(delay * 2, 5_000);
      timer = setTimeout(() => void poll(), delay);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [props.api, props.item.id, refresh]);

  // Hide the link the moment it stops working.
  const expiresAt = status?.expiresAt ? Date.parse(status.expiresAt) : undefined;
  useEffect(() => {
    if (expiresAt === undefined || expiresAt <= now) return;
    const timer = setTimeout(() => setNow(Date.now()), Math.min(expiresAt - now + 50, 2 ** 31 - 1));
    return () => clearTimeout(timer);
  }, [expiresAt, now]);
  const linkValid = status?.downloadUrl && expiresAt !== undefined && expiresAt > now;

  return (
    <li class="export">
      <p id={`export-${props.item.id}`}>
        <strong>
          {props.item.from} → {props.item.to}
        </strong>{' '}
        <code class="muted">{props.item.id.slice(0, 8)}</code>
      </p>
      <ProblemView problem={problem} />
      {status ? (
        <p>
          <span class={`badge export-${status.status}`} data-testid="export-status">
            {status.status}
          </span>{' '}
          <span data-testid="rows-exported">{status.rowsExported}</span> rows exported
          {status.error ? <span class="field-error"> — {status.error}</span> : null}
        </p>
      ) : (
        <p role="status">Checking…</p>
      )}
      {linkValid ? (
        <p>
          <a href={status.downloadUrl} download rel="noopener noreferrer">
            Download CSV
          </a>{' '}
          <span class="muted">(link valid until {dateTime(status.expiresAt)})</span>
        </p>
      ) : status?.status === 'completed' ? (
        <p>
          The download link expired.{' '}
          <button type="button" class="secondary" onClick={() => setRefresh(refresh + 1)}>
            Get a new link
          </button>
        </p>
      ) : null}
    </li>
  );
}

import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, type ApiClient, type Problem, type Schemas } from '../api';
import { dateTime, dayStart, money } from '../format';
import { href } from '../router';
import { Field, Loading, Pager, ProblemView, ScreenTitle, announce, formValues } from '../ui';

type Status = Schemas['ManagedOrderSummary']['status'];
// The API's statuses, listed for the select; `satisfies` fails the build if the API adds one.
const STATUS_SET = {
  pending: true,
  reserved: true,
  awaiting_payment: true,
  requires_action: true,
  paid: true,
  confirmed: true,
  shipped: true,
  refunded: true,
  failed: true,
  cancelled: true,
  expired: true,
} satisfies Record<Status, true>;
export const ORDER_STATUSES = Object.keys(STATUS_SET) as Status[];
const PAGE_SIZE = 50;

/** A filter by order status ("any" sends none). */
export function StatusSelect(props: { problem: Problem | undefined }): JSX.Element {
  return (
    <Field label="Status" name="status" problem={props.problem}>
      {(a) => (
        <select {...a}>
          <option value="">Any</option>
          {ORDER_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s.replace('_', ' ')}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}
const FILTER_FIELDS = ['status', 'from', 'to', 'email'];

interface Filters {
  status?: Status;
  from?: string;
  to?: string;
  email?: string;
}

/**
 * The order desk: filters, then one keyset page at a time (never the whole list in the DOM). The
 * cursors of the pages already seen are kept so "previous" needs no offset.
 */
export function OrdersScreen(props: { api: ApiClient }): JSX.Element {
  const [filters, setFilters] = useState<Filters>({});
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<Schemas['ManagedOrderPage'] | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [loading, setLoading] = useState(true);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    void call(
      props.api.GET('/manage/orders', {
        params: { query: { ...filters, pageSize: PAGE_SIZE, ...(cursor ? { cursor } : {}) } },
        signal: abort.signal,
      }),
    ).then((result) => {
      if (abort.signal.aborted) return;
      setLoading(false);
      if (result.ok) {
        setPage(result.data);
        setProblem(undefined);
        announce(`${result.data.items.length} orders on page ${cursors.length}.`);
      } else {
        setProblem(result.problem);
      }
    });
    return () => abort.abort();
  }, [props.api, filters, cursor, cursors.length]);

  const search = (event: Event): void => {
    const v = formValues(event);
    const next: Filters = {};
    if (v.status) next.status = v.status as Status;
    const from = dayStart(v.from ?? '');
    const to = dayStart(v.to ?? '', true);
    if (from) next.from = from;
    if (to) next.to = to;
    if (v.email?.trim()) next.email = v.email.trim();
    setFilters(next);
    setCursors([undefined]);
  };

  return (
    <section aria-labelledby="orders-title">
      <ScreenTitle>
        <span id="orders-title">Orders</span>
      </ScreenTitle>
      <form class="filters" role="search" aria-label="Filter orders" onSubmit={search}>
        <StatusSelect problem={problem} />
        <Field label="From (UTC day)" name="from" problem={problem}>
          {(a) => <input {...a} type="date" />}
        </Field>
        <Field label="To (UTC day, included)" name="to" problem={problem}>
          {(a) => <input {...a} type="date" />}
        </Field>
        <Field label="Customer email" name="email" problem={problem}>
          {(a) => <input {...a} type="email" autoComplete="off" />}
        </Field>
        <button type="submit">Search</button>
      </form>
      <ProblemView problem={problem} fields={FILTER_FIELDS} />
      <div aria-busy={loading} aria-live="off">
        {loading && !page ? <Loading what="orders" /> : null}
        {page ? <OrderTable orders={page.items} /> : null}
      </div>
      <Pager
        label="Order pages"
        cursors={cursors}
        setCursors={setCursors}
        nextCursor={page?.nextCursor}
        loading={loading}
      />
    </section>
  );
}

function OrderTable(props: { orders: Schemas['ManagedOrderSummary'][] }): JSX.Element {
  if (props.orders.length === 0) return <p>No orders match.</p>;
  return (
    <table>
      <caption class="visually-hidden">Orders, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Order</th>
          <th scope="col">Placed</th>
          <th scope="col">Customer</th>
          <th scope="col">Status</th>
          <th scope="col" class="num">
            Total
          </th>
        </tr>
      </thead>
      <tbody>
        {props.orders.map((o) => (
          <tr key={o.id}>
            <td>
              <a href={href({ screen: 'order', id: o.id })}>
                <code>{o.id.slice(0, 8)}</code>
                <span class="visually-hidden"> (open order {o.id})</span>
              </a>
            </td>
            <td>{dateTime(o.createdAt)}</td>
            <td>
              {o.customer.name}
              <br />
              <span class="muted">{o.customer.email}</span>
            </td>
            <td>
              <span class={`badge status-${o.status}`}>{o.status.replace('_', ' ')}</span>
            </td>
            <td class="num">{money(o.totalCents, o.currency)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

import type { JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { call, type ApiClient, type ManagedOrder, type Problem, type Schemas } from '../api';
import { dateTime, money } from '../format';
import { href } from '../router';
import { Field, Loading, ProblemView, ScreenTitle, announce, formValues, useAction } from '../ui';
import { CancelForm, RefundForm } from './order-money';

type Order = ManagedOrder;
const TIMELINE_CHUNK = 50;
const NOT_SHIPPABLE = new Set(['shipped', 'refunded', 'cancelled', 'failed', 'expired']);

export function OrderScreen(props: { api: ApiClient; id: string }): JSX.Element {
  const [order, setOrder] = useState<Order | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();

  const load = useCallback(async (): Promise<void> => {
    const result = await call(props.api.GET('/manage/orders/{id}', { params: { path: { id: props.id } } }));
    if (result.ok) setOrder(result.data);
    else setProblem(result.problem);
  }, [props.api, props.id]);
  useEffect(() => void load(), [load]);

  return (
    <section>
      <p>
        <a href={href({ screen: 'orders' })}>← All orders</a>
      </p>
      <ScreenTitle>Order {props.id.slice(0, 8)}</ScreenTitle>
      <ProblemView problem={problem} />
      {!order && !problem ? <Loading what="the order" /> : null}
      {order ? <OrderView order={order} api={props.api} reload={load} /> : null}
    </section>
  );
}

function OrderView(props: { order: Order; api: ApiClient; reload: () => Promise<void> }): JSX.Element {
  const { order } = props;
  const refunded = order.payment.refundedCents;
  const address = order.shippingAddress;
  return (
    <>
      <dl class="facts">
        <dt>Order id</dt>
        <dd>
          <code>{order.id}</code>
        </dd>
        <dt>Status</dt>
        <dd>
          <span class={`badge status-${order.status}`}>{order.status.replace('_', ' ')}</span>
          {order.failureReason ? <span class="muted"> — {order.failureReason}</span> : null}
        </dd>
        <dt>Placed</dt>
        <dd>{dateTime(order.createdAt)}</dd>
        <dt>Total</dt>
        <dd>{money(order.totalCents, order.currency)}</dd>
      </dl>

      <div class="columns">
        <section aria-labelledby="customer-h">
          <h2 id="customer-h">Customer</h2>
          <p>
            {order.customer.name}
            <br />
            <a href={`mailto:${order.customer.email}`}>{order.customer.email}</a>
          </p>
        </section>
        <section aria-labelledby="address-h">
          <h2 id="address-h">Shipping address</h2>
          {address ? (
            <address>
              {[
                address.name,
                address.line1,
                address.line2,
                `${address.postalCode} ${address.city}`,
                address.region,
                address.country,
                address.phone,
              ]
                .filter(Boolean)
                .map((line) => (
                  <span key={line}>
                    {line}
                    <br />
                  </span>
                ))}
            </address>
          ) : (
            <p class="muted">None recorded.</p>
          )}
        </section>
        <section aria-labelledby="payment-h">
          <h2 id="payment-h">Payment</h2>
          <dl class="facts">
            <dt>Status</dt>
            <dd>{order.payment.status.replace(/_/g, ' ')}</dd>
            <dt>Payment intent</dt>
            <dd>{order.payment.paymentIntentId ? <code>{order.payment.paymentIntentId}</code> : '—'}</dd>
            <dt>Refunded</dt>
            <dd data-testid="refunded">{money(refunded, order.currency)}</dd>
            <dt>Left to refund</dt>
            <dd data-testid="left-to-refund">
              {money(Math.max(order.totalCents - refunded, 0), order.currency)}
            </dd>
            <dt>Disputed</dt>
            <dd data-testid="disputed">
              {order.payment.disputed ? (
                <strong class="badge status-failed">disputed by the cardholder</strong>
              ) : (
                'no'
              )}
            </dd>
          </dl>
        </section>
      </div>

      <section aria-labelledby="lines-h">
        <h2 id="lines-h">Lines</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col" class="num">
                Quantity
              </th>
              <th scope="col" class="num">
                Unit price
              </th>
              <th scope="col" class="num">
                Line total
              </th>
            </tr>
          </thead>
          <tbody>
            {order.lines.map((line) => (
              <tr key={line.productId}>
                <td>
                  <a href={href({ screen: 'product', id: line.productId })}>{line.name}</a>
                </td>
                <td class="num">{line.quantity}</td>
                <td class="num">{money(line.unitPriceCents, order.currency)}</td>
                <td class="num">{money(line.lineTotalCents, order.currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="refunds-h">
        <h2 id="refunds-h">Refunds</h2>
        {order.refunds.length === 0 ? (
          <p class="muted">No refunds.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Reason</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Amount
                </th>
              </tr>
            </thead>
            <tbody>
              {order.refunds.map((r) => (
                <tr key={r.id}>
                  <td>{dateTime(r.createdAt)}</td>
                  <td>{r.reason}</td>
                  <td>{r.status}</td>
                  <td class="num">{money(r.amountCents, order.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <RefundForm api={props.api} order={order} onDone={props.reload} />
      </section>

      <section aria-labelledby="fulfilment-h">
        <h2 id="fulfilment-h">Fulfilment</h2>
        {order.fulfilment ? (
          <dl class="facts">
            <dt>Carrier</dt>
            <dd>{order.fulfilment.carrier}</dd>
            <dt>Tracking number</dt>
            <dd>
              <code>{order.fulfilment.trackingNumber}</code>
            </dd>
            <dt>Shipped</dt>
            <dd>{dateTime(order.fulfilment.shippedAt)}</dd>
          </dl>
        ) : NOT_SHIPPABLE.has(order.status) ? (
          <p class="muted">Not shipped; an order that is {order.status} cannot ship.</p>
        ) : (
          <ShipForm api={props.api} order={order} onDone={props.reload} />
        )}
      </section>

      {!order.fulfilment && !NOT_SHIPPABLE.has(order.status) ? (
        <CancelForm api={props.api} order={order} onDone={props.reload} />
      ) : null}

      <Timeline entries={order.timeline} complete={order.timelineComplete} />
    </>
  );
}

const SHIP_FIELDS = ['carrier', 'trackingNumber'];

function ShipForm(props: { api: ApiClient; order: Order; onDone: () => Promise<void> }): JSX.Element {
  const { problem, busy, run } = useAction();
  const submit = async (event: Event): Promise<void> => {
    const v = formValues(event);
    const result = await run(() =>
      props.api.POST('/manage/orders/{id}/fulfilments', {
        params: { path: { id: props.order.id } },
        body: { carrier: v.carrier ?? '', trackingNumber: v.trackingNumber ?? '' },
      }),
    );
    if (!result.ok) return;
    announce(`Order shipped with ${result.data.carrier}, tracking ${result.data.trackingNumber}.`);
    await props.onDone();
  };
  return (
    <form aria-label="Ship this order" onSubmit={(e) => void submit(e)} aria-busy={busy}>
      <ProblemView problem={problem} fields={SHIP_FIELDS} />
      <Field label="Carrier" name="carrier" problem={problem}>
        {(a) => <input {...a} required />}
      </Field>
      <Field label="Tracking number" name="trackingNumber" problem={problem}>
        {(a) => <input {...a} required spellcheck={false} />}
      </Field>
      <button type="submit" disabled={busy}>
        Mark as shipped
      </button>
    </form>
  );
}

/** The audit timeline, shown a chunk at a time so a long history never stalls the page. */
function Timeline(props: { entries: Schemas['OrderTimelineEntry'][]; complete: boolean }): JSX.Element {
  const [shown, setShown] = useState(TIMELINE_CHUNK);
  return (
    <section aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      <ol class="timeline">
        {props.entries.slice(0, shown).map((e, i) => (
          <li key={`${e.at}-${i}`}>
            <time dateTime={e.at}>{dateTime(e.at)}</time> <strong>{e.action}</strong>{' '}
            <span class="muted">
              {e.entity}
              {e.actor ? ` · by ${e.actor.role}` : ''}
            </span>
          </li>
        ))}
      </ol>
      {props.entries.length > shown ? (
        <button type="button" class="secondary" onClick={() => setShown(shown + TIMELINE_CHUNK)}>
          Show {Math.min(TIMELINE_CHUNK, props.entries.length - shown)} more
        </button>
      ) : null}
      {!props.complete ? (
        <p class="muted">The audit store could not be read: only entries not yet relayed to it are shown.</p>
      ) : null}
    </section>
  );
}

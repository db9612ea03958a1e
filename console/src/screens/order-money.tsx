import type { JSX } from 'preact';
import { useMemo, useRef } from 'preact/hooks';
import { typedClient, type Credentials, type ManagedOrder, type Problem, type Schemas } from '../api';
import { idempotencyKey, money, toMinorUnits } from '../format';
import { Field, ProblemView, announce, formValues, useAction } from '../ui';

/*
 * Refunds and the admin's cancel, written against the shapes of /work/shared/API.md while their routes
 * (POST /manage/orders/{id}/refunds and /cancel) are built elsewhere. Until `npm run api:generate`
 * puts them in tests/generated/api.d.ts, `PendingPaths` below stands in for those two entries of
 * `paths`; wiring them is: delete `PendingPaths`, use `typedClient()` (the generated `paths`).
 */

type Order = ManagedOrder;
type Refund = Schemas['Refund'];
interface RefundRequest {
  amountCents?: number;
  reason: string;
  restock?: { productId: string; quantity: number }[];
}
interface CancelRequest {
  reason: string;
  restock?: boolean;
}
type Json<T> = { headers: Record<string, unknown>; content: { 'application/json': T } };
type ProblemJson = { headers: Record<string, unknown>; content: { 'application/problem+json': Problem } };
interface PendingOperation<Body, Result, Status extends number, Header extends object> {
  parameters: { query?: never; path: { id: string }; cookie?: never } & Header;
  requestBody: { content: { 'application/json': Body } };
  responses: { [S in Status]: Json<Result> } & { 400: ProblemJson; 404: ProblemJson; 409: ProblemJson };
}
export interface PendingPaths {
  '/manage/orders/{id}/refunds': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    post: PendingOperation<RefundRequest, Refund, 201, { header: { 'idempotency-key': string } }>;
  };
  '/manage/orders/{id}/cancel': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never };
    post: PendingOperation<CancelRequest, Order, 200, { header?: never }>;
  };
}

function usePendingClient(credentials: Credentials): ReturnType<typeof typedClient<PendingPaths>> {
  return useMemo(() => typedClient<PendingPaths>(credentials), [credentials]);
}

const REFUND_FIELDS = ['amountCents', 'reason', 'restock'];

/**
 * A partial or full refund. Each attempt gets its own Idempotency-Key, except a retry of an attempt
 * whose answer never arrived: that one reuses its key, so a refund that did go through is not paid twice.
 */
export function RefundForm(props: {
  credentials: Credentials;
  order: Order;
  refundedCents: number;
  onDone: () => Promise<void>;
}): JSX.Element | null {
  const client = usePendingClient(props.credentials);
  const { problem, setProblem, busy, run } = useAction();
  const unanswered = useRef<string | undefined>(undefined);
  const left = props.order.totalCents - props.refundedCents;
  if (left <= 0 || props.order.payment.status !== 'succeeded') return null;

  const submit = async (event: Event): Promise<void> => {
    const v = formValues(event);
    const body: RefundRequest = { reason: v.reason ?? '' };
    if (v.amount?.trim()) {
      const cents = toMinorUnits(v.amount, props.order.currency);
      if (cents === undefined) {
        return setProblem({
          type: 'about:blank',
          title: 'Check the amount',
          status: 0,
          errors: [{ field: 'amountCents', message: 'a positive amount such as 12.50' }],
        });
      }
      body.amountCents = cents;
    }
    const restock = props.order.lines
      .map((line) => ({ productId: line.productId, quantity: Number(v[`restock-${line.productId}`] ?? 0) }))
      .filter((r) => Number.isInteger(r.quantity) && r.quantity > 0);
    if (restock.length) body.restock = restock;

    const key = unanswered.current ?? idempotencyKey();
    unanswered.current = key;
    const result = await run(() =>
      client.POST('/manage/orders/{id}/refunds', {
        params: { path: { id: props.order.id }, header: { 'idempotency-key': key } },
        body,
      }),
    );
    // Answered (even with an error): the next attempt is a new one, with a new key.
    if (result.ok || result.response) unanswered.current = undefined;
    if (!result.ok) return;
    announce(`Refund of ${money(result.data.amountCents, props.order.currency)} ${result.data.status}.`);
    await props.onDone();
  };

  return (
    <details class="action">
      <summary>Refund…</summary>
      <form aria-label="Refund this order" onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <p>Left to refund: {money(left, props.order.currency)}.</p>
        <ProblemView problem={problem} fields={REFUND_FIELDS} />
        <Field
          label={`Amount (${props.order.currency})`}
          name="amountCents"
          problem={problem}
          hint="Leave empty to refund everything that is left."
        >
          {(a) => <input {...a} name="amount" inputMode="decimal" autoComplete="off" />}
        </Field>
        <Field label="Reason" name="reason" problem={problem}>
          {(a) => <input {...a} required maxLength={500} />}
        </Field>
        <fieldset>
          <legend>Return to stock (optional)</legend>
          {props.order.lines.map((line) => (
            <Field
              key={line.productId}
              label={`${line.name} (of ${line.quantity})`}
              name={`restock-${line.productId}`}
            >
              {(a) => <input {...a} type="number" min={0} max={line.quantity} step={1} defaultValue="0" />}
            </Field>
          ))}
        </fieldset>
        <button type="submit" disabled={busy}>
          Refund
        </button>
      </form>
    </details>
  );
}

const CANCEL_FIELDS = ['reason', 'restock'];

/** Cancels an order that has not shipped; the API cancels or refunds the payment in full. */
export function CancelForm(props: {
  credentials: Credentials;
  order: Order;
  onDone: () => Promise<void>;
}): JSX.Element | null {
  const client = usePendingClient(props.credentials);
  const { problem, busy, run } = useAction();
  const submit = async (event: Event): Promise<void> => {
    const v = formValues(event);
    const result = await run(() =>
      client.POST('/manage/orders/{id}/cancel', {
        params: { path: { id: props.order.id } },
        body: { reason: v.reason ?? '', restock: v.restock === 'on' },
      }),
    );
    if (!result.ok) return;
    announce(`Order ${result.data.status}.`);
    await props.onDone();
  };
  return (
    <section aria-labelledby="cancel-h">
      <h2 id="cancel-h">Cancel</h2>
      <details class="action">
        <summary>Cancel this order…</summary>
        <form aria-label="Cancel this order" onSubmit={(e) => void submit(e)} aria-busy={busy}>
          <ProblemView problem={problem} fields={CANCEL_FIELDS} />
          <Field label="Reason" name="reason" problem={problem}>
            {(a) => <input {...a} required maxLength={500} />}
          </Field>
          <div class="check">
            <input id="cancel-restock" type="checkbox" name="restock" defaultChecked />
            <label for="cancel-restock">Return the items to stock</label>
          </div>
          <button type="submit" class="danger" disabled={busy}>
            Cancel the order
          </button>
        </form>
      </details>
    </section>
  );
}

import type { JSX } from 'preact';
import { useRef } from 'preact/hooks';
import type { ApiClient, ManagedOrder, Problem, Schemas } from '../api';
import { idempotencyKey, money, toMinorUnits } from '../format';
import { Field, ProblemView, announce, formValues, useAction } from '../ui';

/*
 * Refunds and the admin's cancel (POST /manage/orders/{id}/refunds and /cancel), through the session's
 * typed client over the generated `paths`: a change to either route's shape fails the console's build.
 */

type Order = ManagedOrder;
type RefundRequest = Schemas['RefundRequest'];

/** The 409's `remainingCents` (an extension member of the problem), when the API sent one. */
function remainingFrom(problem: Problem | undefined): number | undefined {
  const remaining = problem?.status === 409 ? problem.remainingCents : undefined;
  return typeof remaining === 'number' ? remaining : undefined;
}

const REFUND_FIELDS = ['amountCents', 'reason', 'restock'];

/**
 * A partial or full refund. Each attempt gets its own Idempotency-Key, except a retry of an attempt
 * whose answer never arrived: that one reuses its key, so a refund that did go through is not paid twice.
 */
export function RefundForm(props: {
  api: ApiClient;
  order: Order;
  onDone: () => Promise<void>;
}): JSX.Element | null {
  const { problem, setProblem, busy, run } = useAction();
  const unanswered = useRef<string | undefined>(undefined);
  const left = props.order.totalCents - props.order.payment.refundedCents;
  const remaining = remainingFrom(problem);
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
      props.api.POST('/manage/orders/{id}/refunds', {
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
        {remaining !== undefined ? (
          <p class="problem-detail" data-testid="refund-remaining">
            The API says {money(remaining, props.order.currency)} is left to refund.
          </p>
        ) : null}
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
  api: ApiClient;
  order: Order;
  onDone: () => Promise<void>;
}): JSX.Element | null {
  const { problem, busy, run } = useAction();
  const submit = async (event: Event): Promise<void> => {
    const v = formValues(event);
    const result = await run(() =>
      props.api.POST('/manage/orders/{id}/cancel', {
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

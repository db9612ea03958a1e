import type { JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { call, type ApiClient, type Problem, type Schemas } from '../api';
import { dateTime, fractionDigits, money, toMinorUnits } from '../format';
import { href } from '../router';
import { Field, Loading, ProblemView, ScreenTitle, announce, formValues, useAction } from '../ui';

type Product = Schemas['Product'];
const EDIT_FIELDS = ['sku', 'name', 'description', 'priceCents', 'currency'];
const STOCK_FIELDS = ['delta', 'reason'];

export function ProductScreen(props: { api: ApiClient; id: string }): JSX.Element {
  const [product, setProduct] = useState<Product | undefined>();
  const [etag, setEtag] = useState<string | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [archived, setArchived] = useState(false);

  const load = useCallback(async (): Promise<void> => {
    const result = await call(props.api.GET('/products/{id}', { params: { path: { id: props.id } } }));
    if (!result.ok) return setProblem(result.problem);
    setProduct(result.data);
    setEtag(result.response.headers.get('etag') ?? undefined);
  }, [props.api, props.id]);
  useEffect(() => void load(), [load]);

  return (
    <section>
      <p>
        <a href={href({ screen: 'products' })}>← All products</a>
      </p>
      <ScreenTitle>{product ? product.name : 'Product'}</ScreenTitle>
      <ProblemView problem={problem} />
      {archived ? <p>This product is archived: it no longer appears in the shop.</p> : null}
      {!product && !problem ? <Loading what="the product" /> : null}
      {product && !archived ? (
        <>
          <EditProduct
            api={props.api}
            product={product}
            etag={etag}
            onSaved={(p, tag) => (setProduct(p), setEtag(tag))}
            reload={load}
          />
          <Stock api={props.api} id={product.id} />
          <Archive api={props.api} product={product} onArchived={() => setArchived(true)} />
        </>
      ) : null}
    </section>
  );
}

/**
 * Sends `If-Match` with the ETag of the version it shows, when the API gave one: a change someone made
 * meanwhile then gets a 412 instead of being overwritten, and the form offers to reload.
 */
function EditProduct(props: {
  api: ApiClient;
  product: Product;
  etag: string | undefined;
  onSaved: (product: Product, etag: string | undefined) => void;
  reload: () => Promise<void>;
}): JSX.Element {
  const { product } = props;
  const { problem, setProblem, busy, run } = useAction();
  const submit = async (event: Event): Promise<void> => {
    const v = formValues(event);
    const currency = (v.currency ?? '').trim().toUpperCase();
    const body: Schemas['ProductPatch'] = {};
    if (v.sku !== product.sku) body.sku = v.sku ?? '';
    if (v.name !== product.name) body.name = v.name ?? '';
    if (v.description !== product.description) body.description = v.description ?? '';
    if (currency !== product.currency) body.currency = currency;
    const price = toMinorUnits(v.price ?? '', currency || product.currency) ?? Number.NaN;
    if (price !== product.priceCents) body.priceCents = price;
    const result = await run(() =>
      props.api.PATCH('/manage/products/{id}', {
        params: { path: { id: product.id } },
        body,
        ...(props.etag ? { headers: { 'if-match': props.etag } } : {}),
      }),
    );
    if (!result.ok) return;
    props.onSaved(result.data, result.response.headers.get('etag') ?? undefined);
    announce('Product saved.');
  };
  const digits = fractionDigits(product.currency);
  return (
    <section aria-labelledby="edit-h">
      <h2 id="edit-h">Details</h2>
      <p class="muted">
        Created {dateTime(product.createdAt)} · {money(product.priceCents, product.currency)} · rating{' '}
        {product.rating.average ?? '—'} ({product.rating.count})
      </p>
      <ProblemView problem={problem} fields={EDIT_FIELDS} />
      {problem?.status === 412 ? (
        <button
          type="button"
          class="secondary"
          onClick={() => void props.reload().then(() => setProblem(undefined))}
        >
          Reload the current version
        </button>
      ) : null}
      <form
        key={`${product.id}-${props.etag ?? ''}-${product.name}`}
        aria-label="Edit product"
        onSubmit={(e) => void submit(e)}
        aria-busy={busy}
      >
        <Field label="SKU" name="sku" problem={problem}>
          {(a) => <input {...a} required defaultValue={product.sku} spellcheck={false} />}
        </Field>
        <Field label="Name" name="name" problem={problem}>
          {(a) => <input {...a} required defaultValue={product.name} />}
        </Field>
        <Field label="Description" name="description" problem={problem}>
          {(a) => <textarea {...a} rows={3} defaultValue={product.description} />}
        </Field>
        <Field label="Price" name="priceCents" problem={problem}>
          {(a) => (
            <input
              {...a}
              name="price"
              inputMode="decimal"
              required
              defaultValue={(product.priceCents / 10 ** digits).toFixed(digits)}
            />
          )}
        </Field>
        <Field label="Currency (ISO 4217)" name="currency" problem={problem}>
          {(a) => <input {...a} required defaultValue={product.currency} maxLength={3} />}
        </Field>
        <button type="submit" disabled={busy}>
          Save changes
        </button>
      </form>
    </section>
  );
}

function Stock(props: { api: ApiClient; id: string }): JSX.Element {
  const [ledger, setLedger] = useState<Schemas['InventoryLedger'] | undefined>();
  const [loadProblem, setLoadProblem] = useState<Problem | undefined>();
  const { problem, busy, run } = useAction();

  const load = useCallback(async (): Promise<void> => {
    const result = await call(
      props.api.GET('/manage/products/{id}/inventory', { params: { path: { id: props.id } } }),
    );
    if (result.ok) setLedger(result.data);
    else setLoadProblem(result.problem);
  }, [props.api, props.id]);
  useEffect(() => void load(), [load]);

  const submit = async (event: Event): Promise<void> => {
    const form = event.currentTarget as HTMLFormElement;
    const v = formValues(event);
    const result = await run(() =>
      props.api.POST('/manage/products/{id}/inventory/adjustments', {
        params: { path: { id: props.id } },
        body: { delta: Number(v.delta), reason: v.reason ?? '' },
      }),
    );
    if (!result.ok) return;
    form.reset();
    announce(
      `Stock adjusted by ${result.data.delta}: ${result.data.onHand} on hand, ${result.data.available} available.`,
    );
    await load();
  };

  return (
    <section aria-labelledby="stock-h">
      <h2 id="stock-h">Stock</h2>
      <ProblemView problem={loadProblem} />
      {ledger ? (
        <dl class="facts stock" aria-live="polite">
          <dt>On hand</dt>
          <dd data-testid="on-hand">{ledger.onHand}</dd>
          <dt>Reserved</dt>
          <dd data-testid="reserved">{ledger.reserved}</dd>
          <dt>Available</dt>
          <dd data-testid="available">{ledger.available}</dd>
          <dt>Sold</dt>
          <dd>{ledger.sold}</dd>
        </dl>
      ) : !loadProblem ? (
        <Loading what="stock" />
      ) : null}
      <form aria-label="Adjust stock" onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <ProblemView problem={problem} fields={STOCK_FIELDS} />
        <Field
          label="Change in on-hand quantity"
          name="delta"
          problem={problem}
          hint="Negative to remove units, e.g. -3"
        >
          {(a) => <input {...a} type="number" step={1} required />}
        </Field>
        <Field label="Reason" name="reason" problem={problem}>
          {(a) => <input {...a} required maxLength={500} />}
        </Field>
        <button type="submit" disabled={busy}>
          Adjust stock
        </button>
      </form>
      {ledger && ledger.movements.length > 0 ? (
        <table>
          <caption>Newest movements</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Kind</th>
              <th scope="col" class="num">
                On hand
              </th>
              <th scope="col" class="num">
                Reserved
              </th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {ledger.movements.map((m) => (
              <tr key={m.id}>
                <td>{dateTime(m.createdAt)}</td>
                <td>{m.kind}</td>
                <td class="num">{signed(m.onHandDelta)}</td>
                <td class="num">{signed(m.reservedDelta)}</td>
                <td>{m.reason ?? (m.orderId ? `order ${m.orderId.slice(0, 8)}` : '')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

function Archive(props: { api: ApiClient; product: Product; onArchived: () => void }): JSX.Element {
  const { problem, busy, run } = useAction();
  const archive = async (): Promise<void> => {
    const result = await run(() =>
      props.api.DELETE('/manage/products/{id}', { params: { path: { id: props.product.id } } }),
    );
    if (!result.ok) return;
    announce(`${props.product.name} archived.`);
    props.onArchived();
  };
  return (
    <section aria-labelledby="archive-h">
      <h2 id="archive-h">Archive</h2>
      <ProblemView problem={problem} />
      <details class="action">
        <summary>Archive this product…</summary>
        <p>It disappears from the shop's lists, search and detail at once; orders keep their lines.</p>
        <button type="button" class="danger" disabled={busy} onClick={() => void archive()}>
          Archive {props.product.name}
        </button>
      </details>
    </section>
  );
}

import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, type ApiClient, type Problem, type Schemas } from '../api';
import { money, toMinorUnits } from '../format';
import { href } from '../router';
import { Field, Loading, Pager, ProblemView, ScreenTitle, announce, formValues, useAction } from '../ui';

const PAGE_SIZE = 50;
const CREATE_FIELDS = ['sku', 'name', 'description', 'priceCents', 'currency', 'stock'];

/** The catalog, a keyset page at a time, and the form that adds a product with its initial stock. */
export function ProductsScreen(props: { api: ApiClient }): JSX.Element {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<Schemas['ProductPage'] | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [loading, setLoading] = useState(true);
  const [version, setVersion] = useState(0);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    void call(
      props.api.GET('/products', {
        params: { query: { pageSize: PAGE_SIZE, sort: 'newest', ...(cursor ? { cursor } : {}) } },
        signal: abort.signal,
      }),
    ).then((result) => {
      if (abort.signal.aborted) return;
      setLoading(false);
      if (result.ok) setPage(result.data);
      else setProblem(result.problem);
    });
    return () => abort.abort();
  }, [props.api, cursor, version]);

  return (
    <section>
      <ScreenTitle>Products</ScreenTitle>
      <CreateProduct api={props.api} onCreated={() => (setCursors([undefined]), setVersion(version + 1))} />
      <h2>Catalog</h2>
      <ProblemView problem={problem} />
      <div aria-busy={loading}>
        {loading && !page ? <Loading what="products" /> : null}
        {page && page.items.length === 0 ? <p>No products yet.</p> : null}
        {page && page.items.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">SKU</th>
                <th scope="col" class="num">
                  Price
                </th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((p) => (
                <tr key={p.id}>
                  <td>
                    <a href={href({ screen: 'product', id: p.id })}>{p.name}</a>
                  </td>
                  <td>
                    <code>{p.sku}</code>
                  </td>
                  <td class="num">{money(p.priceCents, p.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </div>
      <Pager
        label="Product pages"
        cursors={cursors}
        setCursors={setCursors}
        nextCursor={page?.nextCursor}
        loading={loading}
      />
    </section>
  );
}

function CreateProduct(props: { api: ApiClient; onCreated: () => void }): JSX.Element {
  const { problem, busy, run } = useAction();
  const submit = async (event: Event): Promise<void> => {
    const form = event.currentTarget as HTMLFormElement;
    const v = formValues(event);
    const currency = (v.currency ?? '').trim().toUpperCase();
    const result = await run(() =>
      props.api.POST('/manage/products', {
        body: {
          sku: v.sku ?? '',
          name: v.name ?? '',
          description: v.description ?? '',
          currency,
          // Sent even when unreadable (NaN → null): the API names the field, as for any other mistake.
          priceCents: toMinorUnits(v.price ?? '', currency || 'USD') ?? Number.NaN,
          stock: Number(v.stock),
        },
      }),
    );
    if (!result.ok) return;
    form.reset();
    announce(`Product ${result.data.name} created.`);
    props.onCreated();
  };
  return (
    <details class="action">
      <summary>New product…</summary>
      <form aria-label="New product" onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <ProblemView problem={problem} fields={CREATE_FIELDS} />
        <Field label="SKU" name="sku" problem={problem}>
          {(a) => <input {...a} required spellcheck={false} />}
        </Field>
        <Field label="Name" name="name" problem={problem}>
          {(a) => <input {...a} required />}
        </Field>
        <Field label="Description" name="description" problem={problem}>
          {(a) => <textarea {...a} rows={3} />}
        </Field>
        <Field
          label="Price"
          name="priceCents"
          problem={problem}
          hint="In the currency's main unit, e.g. 12.50"
        >
          {(a) => <input {...a} name="price" inputMode="decimal" required />}
        </Field>
        <Field label="Currency (ISO 4217)" name="currency" problem={problem}>
          {(a) => <input {...a} required defaultValue="USD" maxLength={3} />}
        </Field>
        <Field label="Initial stock" name="stock" problem={problem}>
          {(a) => <input {...a} type="number" min={0} step={1} required defaultValue="0" />}
        </Field>
        <button type="submit" disabled={busy}>
          Create product
        </button>
      </form>
    </details>
  );
}

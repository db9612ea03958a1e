/**
 * One statement streams a tenant's orders in a range with their line aggregates, customer and payment.
 * Lines are aggregated in one grouped pass restricted to the range's orders (a per-order LATERAL
 * subquery is ~2× slower: ANCHORS.md). Ordered by (created_at, id) so a re-run writes the same file.
 */
export const EXPORT_COLUMNS = [
  'order_id',
  'created_at',
  'status',
  'customer_id',
  'customer_email',
  'customer_name',
  'customer_address',
  'item_count',
  'subtotal_cents',
  'total_cents',
  'currency',
  'payment_intent_id',
  'shipping_address',
] as const;

/**
 * One result row as the cursor returns it in `rowMode: 'array'`, in the select list's order (an array
 * per row is cheaper to build than an object with a dozen named properties).
 */
export type ExportRow = [
  id: string,
  /** ISO 8601 in UTC, formatted by PostgreSQL (no Date object per row). */
  created_at: string,
  status: string,
  user_id: string,
  email_enc: string,
  name: string,
  address_enc: string | null,
  item_count: string | number | null,
  subtotal: string | number | null,
  total_cents: string | number,
  currency: string,
  payment_intent_id: string | null,
  /** The order's shipping address, a Fernet token (null for orders placed before addresses). */
  shipping_address_enc: string | null,
];

export function exportQuery(withStatus: boolean): string {
  const statusFilter = withStatus ? 'and o.status = $4' : '';
  return `
with range_orders as (
  select o.id from orders o
  where o.tenant_id = $1 and o.created_at >= $2 and o.created_at < $3 ${statusFilter}
), line_totals as (
  select l.order_id, sum(l.quantity) as item_count, sum(l.line_total_cents) as subtotal
  from order_lines l join range_orders r on r.id = l.order_id
  group by l.order_id
)
select o.id, to_char(o.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at, o.status, o.user_id, u.email_enc, u.name, u.address_enc,
       lt.item_count, lt.subtotal, o.total_cents, o.currency, p.payment_intent_id, o.shipping_address_enc
from orders o
join range_orders r on r.id = o.id
join users u on u.id = o.user_id and u.tenant_id = o.tenant_id
left join line_totals lt on lt.order_id = o.id
left join payments p on p.order_id = o.id and p.tenant_id = o.tenant_id
order by o.created_at, o.id`;
}

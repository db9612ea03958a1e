import pg from 'pg';

/**
 * "Nothing lost": the invariants every reliability run and the load benchmark check at the end, read
 * straight from the databases (and the fake Stripe's books), independent of the code under test.
 *
 * Signature (stable; other suites call it at their end):
 *
 *   const report = await checkInvariants({ appUrl, auditUrl, initialStock, tenantIds?, paymentIntents?,
 *                                          stripeUrl?, settled?, expiryGraceSeconds?, allowNoOrders? });
 *   expect(report.ok, report.summary()).toBe(true);
 *
 * `paymentIntents` is the fake's `fake.paymentIntents()`; `stripeUrl` its base URL (`fake.url`), read
 * through the fake's existing read API only (GET /v1/charges/:id, as stripe-node would) to learn what
 * was captured and refunded. Nothing is written anywhere.
 *
 * 0. Something was checked — a report with no product or no order in scope is a failure (unless
 *    `allowNoOrders`), so a run that created nothing cannot pass by accident.
 * 1. Stock — per product: initial + Σ adjustments = available + reserved + sold, where `sold` is what
 *    was sold and not restocked; cross-checked against two independent ledgers: the reservations
 *    (reserved = Σ active, Σ committed − Σ restocks = sold) and `stock_movements` (on-hand and
 *    reserved are the sums of its deltas, its sales are the committed reservations). Committed
 *    reservations belong to orders that were sold (confirmed, shipped, refunded, or cancelled after
 *    confirmation) and match their lines exactly; a restock returns at most what its order bought.
 * 2. Payments — each sold order has exactly one payments row for its total (succeeded; refunded once
 *    every cent is back — for a cancelled sale, also while a refund row of ours is still pending if
 *    every cent is promised back and, with `stripeUrl`, Stripe refunded the charge in full: the
 *    backstop's refund or charge.refunded can come before that row settles) and exactly one succeeded
 *    PaymentIntent at the fake for that amount.
 *    `refunded_cents` is what the `refunds` rows promise (pending + succeeded); only sold orders have
 *    refunds; a confirmed or shipped order with every cent back for good is not left confirmed. Every
 *    succeeded PaymentIntent at the fake names an order of ours that still holds the sale, or the money
 *    went back (no stray charge, whatever its metadata).
 * 3. Money (with `stripeUrl`) — for every order, captured − refunded at the fake, summed over its
 *    PaymentIntents, equals what our books say the shop keeps: for an order that was sold, its total
 *    minus its succeeded refunds (0 once refunded or cancelled in full); for any other order (failed,
 *    expired, cancelled before payment) 0. A pending refund may or may not have reached Stripe yet, so
 *    it widens the expectation to [kept − pending, kept]; with `settled` no refund may be pending.
 * 4. Audit — every outbox row was relayed, the audit database holds exactly the outbox rows (no loss, no
 *    duplicate), and replaying the audit trail alone — the state machine of ADR 0060, restated here —
 *    reproduces every order's and payment's current status (so every write of either has its audit
 *    row). With `relayed: false` (handlers called in-process, no relay running) the outbox itself is
 *    replayed and the relay check is skipped.
 * 5. Reservations — none active past its expiry; with `settled`, every order is final (shipped and
 *    refunded count) and no reservation is active at all.
 * 6. Totals — every order's total is the sum of its lines, each line its unit price × quantity.
 */

export interface FakeIntentView {
  id: string;
  status: string;
  amount: number;
  currency: string;
  metadata: Record<string, string> | null;
  /** The charge holding what was captured and refunded (Stripe: a string id unless expanded). */
  latest_charge?: string | { id: string } | null;
}

export interface InvariantOptions {
  appUrl: string;
  auditUrl: string;
  /** productId → on-hand quantity at setup (products not listed are not checked for conservation). */
  initialStock: ReadonlyMap<string, number>;
  /** Restrict the order/payment/audit checks to these tenants (default: the whole database). */
  tenantIds?: readonly string[];
  /**
   * Restrict the order/payment/audit checks further to these orders (stock stays per product). For a
   * file whose fake Stripe forgets everything between tests: each test's own orders, checked at its end.
   */
  orderIds?: readonly string[];
  /** The fake Stripe's PaymentIntents (omit to skip the checks at the PSP). */
  paymentIntents?: () => readonly FakeIntentView[];
  /** The fake Stripe's base URL: enables the money check (captured − refunded per order). */
  stripeUrl?: string;
  /** A run that legitimately placed no order (default false: no order in scope is a failure). */
  allowNoOrders?: boolean;
  /** All work finished: every order final, no active reservation. */
  settled?: boolean;
  /** Tolerance for "active past expiry" (the sweeper runs every minute). Default 0. */
  expiryGraceSeconds?: number;
  /**
   * Whether the audit relay ran (default true). Integration tests that call handlers in-process run no
   * relay: with `false` the audit replay reads the app's outbox and the relay check is skipped.
   */
  relayed?: boolean;
}

export interface InvariantCheck {
  name: string;
  ok: boolean;
  /** How many items (products, orders, rows…) the check looked at. */
  checked: number;
  violations: string[];
}

export interface InvariantReport {
  ok: boolean;
  checks: InvariantCheck[];
  /** Figures for reports: orders by status, audit rows, products checked… */
  figures: Record<string, number>;
  /** One line per check, for logs and assertion messages. */
  summary(): string;
}

const MAX_LISTED = 20;

class Check {
  private readonly found: string[] = [];
  private count = 0;
  private total = 0;
  constructor(readonly name: string) {}
  saw(n = 1): void {
    this.total += n;
  }
  fail(message: string): void {
    this.count++;
    if (this.found.length < MAX_LISTED) this.found.push(message);
  }
  result(): InvariantCheck {
    const violations = [...this.found];
    if (this.count > this.found.length) violations.push(`… and ${this.count - this.found.length} more`);
    return { name: this.name, ok: this.count === 0, checked: this.total, violations };
  }
}

/**
 * Order statuses and the statuses each may be entered from (API.md's and ADR 0060's state machine,
 * restated here rather than imported so a wrong edit of the code's table cannot also bless itself).
 */
const OPEN_ORDER = ['pending', 'reserved', 'awaiting_payment', 'requires_action'] as const;
const ORDER_PREDECESSORS: Record<string, readonly string[]> = {
  pending: [],
  reserved: ['pending'],
  awaiting_payment: ['reserved'],
  requires_action: ['awaiting_payment'],
  paid: ['awaiting_payment', 'requires_action'],
  confirmed: ['paid'],
  shipped: ['confirmed'],
  refunded: ['confirmed', 'shipped'],
  failed: OPEN_ORDER,
  cancelled: [...OPEN_ORDER, 'confirmed'],
  expired: OPEN_ORDER,
};
/** Where an order's work is done: nothing more happens to it without a person asking. */
const FINAL_ORDER = new Set(['confirmed', 'shipped', 'refunded', 'failed', 'cancelled', 'expired']);
/** A sale that still holds the customer's money (less any partial refunds). */
const HOLDING = new Set(['confirmed', 'shipped']);

/**
 * Payment status ranks (forward-only): the highest recorded status is the current one. Issue #17's
 * rule: `succeeded` ranks above `failed` and `canceled` — a failure is not final (the intent returns to
 * requires_payment_method and can still succeed), and money taken is never hidden by a stale failure.
 */
const PAYMENT_RANK: Record<string, number> = {
  pending: 0,
  requires_payment_method: 1,
  requires_confirmation: 2,
  requires_action: 3,
  processing: 4,
  failed: 5,
  canceled: 5,
  succeeded: 6,
  refunded: 7,
};

interface AuditRow {
  outbox_id: string;
  entity: string;
  entity_id: string;
  action: string;
  payload: Record<string, unknown>;
}

/**
 * Replays an order's status audit rows from `pending`: they must be orderable into a path of allowed
 * transitions that uses each exactly once (rows of one transaction share a timestamp, so the order is
 * found by search, not by time). Returns the end status or why there is none.
 */
function replayOrder(actions: string[]): { status?: string; error?: string } {
  const statuses = actions.filter((a) => a.startsWith('status:')).map((a) => a.slice('status:'.length));
  if (!actions.includes('created')) return { error: 'no "created" audit row' };
  if (actions.filter((a) => a === 'created').length > 1) return { error: 'two "created" audit rows' };
  if (new Set(statuses).size !== statuses.length)
    return { error: `a status entered twice: ${statuses.join(',')}` };
  const walk = (current: string, remaining: string[]): string | undefined => {
    if (remaining.length === 0) return current;
    for (const next of remaining) {
      if (!ORDER_PREDECESSORS[next]?.includes(current)) continue;
      const end = walk(
        next,
        remaining.filter((s) => s !== next),
      );
      if (end) return end;
    }
    return undefined;
  };
  const end = walk('pending', statuses);
  return end
    ? { status: end }
    : { error: `audit statuses ${statuses.join(',')} are not a path from pending` };
}

function replayPayment(rows: AuditRow[]): { status?: string; intent?: string | null; error?: string } {
  if (rows.filter((r) => r.action === 'opened').length !== 1)
    return { error: 'not exactly one "opened" row' };
  const intents = rows.filter((r) => r.action === 'intent_created');
  if (intents.length > 1) return { error: 'two "intent_created" rows' };
  const statusRows = rows.filter((r) => r.action.startsWith('status:'));
  const entered = statusRows.map((r) => r.action.slice('status:'.length));
  if (new Set(entered).size !== entered.length)
    return { error: `a status entered twice: ${entered.join(',')}` };
  let status = 'pending';
  const consider = (s: unknown): void => {
    if (typeof s === 'string' && (PAYMENT_RANK[s] ?? -1) > (PAYMENT_RANK[status] ?? -1)) status = s;
  };
  for (const r of intents) consider(r.payload.status);
  for (const s of entered) consider(s);
  const intent = intents[0] ? ((intents[0].payload.paymentIntentId as string | undefined) ?? null) : null;
  return { status, intent };
}

/** What the fake's charges say was captured and refunded, per PaymentIntent id. */
async function moneyAtStripe(
  url: string,
  intents: readonly FakeIntentView[],
): Promise<Map<string, { captured: number; refunded: number }>> {
  const out = new Map<string, { captured: number; refunded: number }>();
  const queue = intents.filter((pi) => pi.latest_charge);
  const worker = async (): Promise<void> => {
    for (let pi = queue.shift(); pi; pi = queue.shift()) {
      const chargeId = typeof pi.latest_charge === 'string' ? pi.latest_charge : pi.latest_charge!.id;
      const res = await fetch(`${url}/v1/charges/${encodeURIComponent(chargeId)}`, {
        // The fake accepts any key of the test prefix; nothing here reaches a real Stripe.
        headers: { authorization: 'Bearer sk_test_invariants' },
      });
      if (res.status !== 200) throw new Error(`GET /v1/charges/${chargeId} answered ${res.status}`);
      const charge = (await res.json()) as { amount_captured: number; amount_refunded: number };
      out.set(pi.id, { captured: charge.amount_captured, refunded: charge.amount_refunded });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

export async function checkInvariants(options: InvariantOptions): Promise<InvariantReport> {
  const app = new pg.Client({ connectionString: options.appUrl, application_name: 'reliability-observer' });
  const audit = new pg.Client({
    connectionString: options.auditUrl,
    application_name: 'reliability-observer',
  });
  await app.connect();
  await audit.connect();
  try {
    return await runChecks(app, audit, options);
  } finally {
    await app.end();
    await audit.end();
  }
}

/**
 * The check once all work is done (`settled`), with the money at the fake Stripe: over `scope`'s tenants
 * (default: the whole database) and the products of `scope.initialStock`.
 */
export function checkSettled(
  db: { appUrl: string; auditUrl: string },
  fake: { url: string; paymentIntents(): readonly FakeIntentView[] },
  scope: { initialStock: ReadonlyMap<string, number>; tenantIds?: readonly string[] },
): Promise<InvariantReport> {
  return checkInvariants({
    appUrl: db.appUrl,
    auditUrl: db.auditUrl,
    initialStock: scope.initialStock,
    ...(scope.tenantIds ? { tenantIds: scope.tenantIds } : {}),
    paymentIntents: () => fake.paymentIntents(),
    stripeUrl: fake.url,
    settled: true,
  });
}

/** The audit database holds exactly the outbox rows, each once, each marked relayed. */
function checkRelay(relayed: Check, outbox: (AuditRow & { relayed: boolean })[], logged: AuditRow[]): void {
  relayed.saw(outbox.length);
  const loggedById = new Map<string, AuditRow>();
  const dupes = new Set<string>();
  for (const r of logged) {
    if (loggedById.has(r.outbox_id)) dupes.add(r.outbox_id);
    loggedById.set(r.outbox_id, r);
  }
  for (const r of outbox) {
    if (!r.relayed) relayed.fail(`outbox row ${r.outbox_id} (${r.entity} ${r.action}) not relayed`);
    const copy = loggedById.get(r.outbox_id);
    if (!copy) relayed.fail(`outbox row ${r.outbox_id} (${r.entity} ${r.action}) missing from audit_log`);
    else if (copy.entity !== r.entity || copy.entity_id !== r.entity_id || copy.action !== r.action)
      relayed.fail(`audit_log row ${r.outbox_id} differs from its outbox row`);
  }
  const outboxIds = new Set(outbox.map((r) => r.outbox_id));
  for (const r of logged)
    if (!outboxIds.has(r.outbox_id)) relayed.fail(`audit_log row ${r.outbox_id} has no outbox row`);
  for (const id of dupes) relayed.fail(`audit_log row ${id} twice`);
}

async function runChecks(
  app: pg.Client,
  audit: pg.Client,
  options: InvariantOptions,
): Promise<InvariantReport> {
  const tenants = options.tenantIds ? [...options.tenantIds] : null;
  const figures: Record<string, number> = {};
  const checks: Check[] = [];
  const check = (name: string): Check => {
    const c = new Check(name);
    checks.push(c);
    return c;
  };

  // One consistent snapshot of the app database for every read below.
  await app.query('begin isolation level repeatable read read only');
  try {
    // ---- 1. stock ---------------------------------------------------------------------------------
    const stock = check('stock conservation (initial + adjustments = available + reserved + sold)');
    const ledger = check(
      'inventory matches reservations and stock_movements (reserved, sold = committed − restocked, on-hand)',
    );
    const productIds = [...options.initialStock.keys()];
    const { rows: inv } = await app.query<{
      product_id: string;
      available: number;
      reserved: number;
      sold: number;
      active: number;
      committed: number;
      m_on_hand: number;
      m_reserved: number;
      m_adjusted: number;
      m_restocked: number;
      m_sales: number;
      m_opening: number;
      m_opening_rows: number;
    }>(
      `select i.product_id, i.available, i.reserved, i.sold,
              coalesce(r.active, 0) as active, coalesce(r.committed, 0) as committed,
              coalesce(m.on_hand, 0) as m_on_hand, coalesce(m.reserved, 0) as m_reserved,
              coalesce(m.adjusted, 0) as m_adjusted, coalesce(m.restocked, 0) as m_restocked,
              coalesce(m.sales, 0) as m_sales, coalesce(m.opening, 0) as m_opening,
              coalesce(m.opening_rows, 0) as m_opening_rows
         from inventory i
         left join lateral (
           select sum(quantity) filter (where status = 'active')::int as active,
                  sum(quantity) filter (where status = 'committed')::int as committed
             from reservations where product_id = i.product_id) r on true
         left join lateral (
           select sum(on_hand_delta)::int as on_hand,
                  sum(reserved_delta)::int as reserved,
                  sum(on_hand_delta) filter (where kind = 'adjustment')::int as adjusted,
                  sum(on_hand_delta) filter (where kind = 'restock' and order_id is not null)::int as restocked,
                  (-sum(on_hand_delta) filter (where kind = 'sale'))::int as sales,
                  sum(on_hand_delta) filter (where kind = 'restock' and order_id is null)::int as opening,
                  count(*) filter (where kind = 'restock' and order_id is null)::int as opening_rows
             from stock_movements where product_id = i.product_id) m on true
        where i.product_id = any($1::uuid[])`,
      [productIds],
    );
    const byProduct = new Map(inv.map((r) => [r.product_id, r]));
    for (const [productId, initial] of options.initialStock) {
      stock.saw();
      ledger.saw();
      const row = byProduct.get(productId);
      if (!row) {
        stock.fail(`product ${productId}: no inventory row`);
        continue;
      }
      const onHand = row.available + row.reserved;
      if (initial + row.m_adjusted !== onHand + row.sold || row.available < 0)
        stock.fail(
          `product ${productId}: initial ${initial} + adjustments ${row.m_adjusted} ≠ available ${row.available} + reserved ${row.reserved} + sold ${row.sold}`,
        );
      const wrong: string[] = [];
      if (row.reserved !== row.active)
        wrong.push(`reserved ${row.reserved} ≠ Σ active reservations ${row.active}`);
      if (row.m_reserved !== row.reserved)
        wrong.push(`reserved ${row.reserved} ≠ ledger's ${row.m_reserved}`);
      if (row.sold !== row.committed - row.m_restocked)
        wrong.push(`sold ${row.sold} ≠ committed ${row.committed} − restocked ${row.m_restocked}`);
      if (row.m_sales !== row.committed)
        wrong.push(`ledger's sales ${row.m_sales} ≠ committed ${row.committed}`);
      // A product created through the API has its opening stock in the ledger ("initial stock");
      // one seeded by SQL has none, and the caller's initial figure opens its ledger instead.
      const opened = row.m_opening_rows > 0;
      if (opened && row.m_opening !== initial)
        wrong.push(`ledger opened with ${row.m_opening}, initialStock says ${initial}`);
      if ((opened ? 0 : initial) + row.m_on_hand !== onHand)
        wrong.push(`on-hand ${onHand} ≠ ledger's ${(opened ? 0 : initial) + row.m_on_hand}`);
      if (wrong.length > 0) ledger.fail(`product ${productId}: ${wrong.join('; ')}`);
    }
    figures.productsChecked = productIds.length;
    figures.unitsSold = inv.reduce((n, r) => n + r.sold, 0);
    figures.unitsRestocked = inv.reduce((n, r) => n + r.m_restocked, 0);

    const restocks = check('each restock returns units its order bought and was sold');
    const { rows: restocked } = await app.query<{
      order_id: string;
      product_id: string;
      restocked: number;
      committed: number;
      status: string | null;
    }>(
      `with rs as (
         select order_id, product_id, sum(on_hand_delta)::int as qty from stock_movements
          where kind = 'restock' and order_id is not null and product_id = any($1::uuid[])
          group by order_id, product_id),
       c as (
         select order_id, product_id, sum(quantity)::int as qty from reservations
          where status = 'committed' and product_id = any($1::uuid[])
          group by order_id, product_id)
       select rs.order_id, rs.product_id, rs.qty as restocked, coalesce(c.qty, 0) as committed, o.status
         from rs left join c on c.order_id = rs.order_id and c.product_id = rs.product_id
         left join orders o on o.id = rs.order_id`,
      [productIds],
    );
    restocks.saw(restocked.length);
    for (const r of restocked)
      if (
        r.restocked <= 0 ||
        r.restocked > r.committed ||
        !['confirmed', 'shipped', 'refunded', 'cancelled'].includes(r.status ?? '')
      )
        restocks.fail(
          `order ${r.order_id} (${r.status ?? 'missing'}) product ${r.product_id}: restocked ${r.restocked}, bought ${r.committed}`,
        );

    // ---- orders, reservations, payments of the tenants in scope -----------------------------------
    const { rows: tenantOrders } = await app.query<{
      id: string;
      status: string;
      total_cents: string;
      currency: string;
      committed: number;
    }>(
      `select o.id, o.status, o.total_cents::text, o.currency,
              coalesce((select sum(r.quantity) from reservations r
                         where r.order_id = o.id and r.status = 'committed'), 0)::int as committed
         from orders o where ($1::uuid[] is null or o.tenant_id = any($1))`,
      [tenants],
    );
    const scope = options.orderIds ? new Set(options.orderIds) : undefined;
    const orders = scope ? tenantOrders.filter((o) => scope.has(o.id)) : tenantOrders;
    const orderById = new Map(orders.map((o) => [o.id, o]));
    /** Rows of orders in scope only (a no-op without `orderIds`). */
    const inScope = <T extends { order_id: string }>(rows: T[]): T[] =>
      scope ? rows.filter((r) => orderById.has(r.order_id)) : rows;
    // Sold: confirmed, and what a confirmed order becomes. A cancelled order was sold when its stock
    // was (committed reservations; the lines check below makes that all of them or none).
    const wasSold = (o: (typeof orders)[number]): boolean =>
      HOLDING.has(o.status) || o.status === 'refunded' || (o.status === 'cancelled' && o.committed > 0);
    for (const o of orders) figures[`orders.${o.status}`] = (figures[`orders.${o.status}`] ?? 0) + 1;
    figures.orders = orders.length;

    const totals = check('order total = Σ line totals, line total = unit price × quantity');
    const { rows: tenantBadTotals } = await app.query<{
      id: string;
      total: string;
      lines: string | null;
      bad_lines: number;
    }>(
      `select o.id, o.total_cents::text as total, sum(l.line_total_cents)::text as lines,
              count(*) filter (where l.line_total_cents <> l.unit_price_cents * l.quantity)::int as bad_lines
         from orders o left join order_lines l on l.order_id = o.id
        where ($1::uuid[] is null or o.tenant_id = any($1))
        group by o.id, o.total_cents
       having o.total_cents is distinct from coalesce(sum(l.line_total_cents), 0)
           or count(*) filter (where l.line_total_cents <> l.unit_price_cents * l.quantity) > 0`,
      [tenants],
    );
    const badTotals = tenantBadTotals.filter((r) => orderById.has(r.id));
    totals.saw(orders.length);
    for (const r of badTotals)
      totals.fail(
        `order ${r.id}: total ${r.total}, lines sum to ${r.lines ?? 0}, ${r.bad_lines} line(s) ≠ price × quantity`,
      );

    const committedMatch = check('committed reservations = lines of sold orders, none for others');
    const soldIds = orders.filter(wasSold).map((o) => o.id);
    const { rows: lineVsRes } = await app.query<{
      order_id: string;
      product_id: string | null;
      line_qty: number | null;
      committed: number | null;
    }>(
      `with lines as (
         select l.order_id, l.product_id, sum(l.quantity)::int as qty from order_lines l
          where l.order_id = any($2::uuid[])
          group by l.order_id, l.product_id),
       res as (
         select r.order_id, r.product_id, sum(r.quantity)::int as qty from reservations r
          where r.status = 'committed' and ($1::uuid[] is null or r.tenant_id = any($1))
          group by r.order_id, r.product_id)
       select coalesce(lines.order_id, res.order_id) as order_id,
              coalesce(lines.product_id, res.product_id) as product_id,
              lines.qty as line_qty, res.qty as committed
         from lines full join res on res.order_id = lines.order_id and res.product_id = lines.product_id
        where lines.qty is distinct from res.qty`,
      [tenants, soldIds],
    );
    committedMatch.saw(orders.length);
    for (const r of inScope(lineVsRes))
      committedMatch.fail(
        `order ${r.order_id} (${orderById.get(r.order_id)?.status ?? '?'}) product ${r.product_id}: lines ${r.line_qty ?? 0}, committed ${r.committed ?? 0}`,
      );

    const expiry = check('no active reservation past its expiry');
    const grace = options.expiryGraceSeconds ?? 0;
    const { rows: tenantOverdue } = await app.query<{ product_id: string; order_id: string; late: number }>(
      `select product_id, order_id, extract(epoch from now() - expires_at)::int as late from reservations
        where status = 'active' and expires_at < now() - make_interval(secs => $2)
          and ($1::uuid[] is null or tenant_id = any($1))`,
      [tenants, grace],
    );
    const overdue = inScope(tenantOverdue);
    const { rows: tenantActive } = await app.query<{ order_id: string; status: string }>(
      `select r.order_id, o.status from reservations r join orders o on o.id = r.order_id
        where r.status = 'active' and ($1::uuid[] is null or r.tenant_id = any($1))`,
      [tenants],
    );
    const activeRows = inScope(tenantActive);
    expiry.saw(activeRows.length);
    for (const r of overdue)
      expiry.fail(`reservation of product ${r.product_id} by order ${r.order_id}: ${r.late} s past expiry`);
    const activeOfClosed = check('active reservations belong to open orders');
    activeOfClosed.saw(activeRows.length);
    for (const r of activeRows)
      if (FINAL_ORDER.has(r.status) || r.status === 'paid')
        activeOfClosed.fail(`order ${r.order_id} is ${r.status} but still holds an active reservation`);
    figures.activeReservations = activeRows.length;

    if (options.settled) {
      const final = check('every order reached a final state');
      final.saw(orders.length);
      for (const o of orders) if (!FINAL_ORDER.has(o.status)) final.fail(`order ${o.id} is ${o.status}`);
      const none = check('no reservation left active after completion');
      none.saw(activeRows.length);
      for (const r of activeRows) none.fail(`order ${r.order_id} (${r.status}) holds an active reservation`);
    }

    // ---- 2. payments and refunds ------------------------------------------------------------------
    const { rows: tenantPayments } = await app.query<{
      id: string;
      order_id: string;
      status: string;
      payment_intent_id: string | null;
      amount_cents: string;
      refunded_cents: string;
    }>(
      `select id, order_id, status, payment_intent_id, amount_cents::text, refunded_cents::text from payments
        where ($1::uuid[] is null or tenant_id = any($1))`,
      [tenants],
    );
    const payments = inScope(tenantPayments);
    const paymentsByOrder = new Map<string, typeof payments>();
    for (const p of payments)
      paymentsByOrder.set(p.order_id, [...(paymentsByOrder.get(p.order_id) ?? []), p]);
    const { rows: tenantRefunds } = await app.query<{
      order_id: string;
      succeeded: string;
      pending: string;
      pending_rows: number;
      ours: number;
      rows: number;
    }>(
      `select order_id,
              coalesce(sum(amount_cents) filter (where status = 'succeeded'), 0)::text as succeeded,
              coalesce(sum(amount_cents) filter (where status = 'pending'), 0)::text as pending,
              count(*) filter (where status = 'pending')::int as pending_rows,
              count(*) filter (where source in ('admin', 'cancel'))::int as ours,
              count(*)::int as rows
         from refunds where ($1::uuid[] is null or tenant_id = any($1))
        group by order_id`,
      [tenants],
    );
    const refundRows = inScope(tenantRefunds);
    const refundsOf = (
      orderId: string,
    ): { succeeded: number; pending: number; pendingRows: number; ours: number } => {
      const r = refundRows.find((x) => x.order_id === orderId);
      return r
        ? {
            succeeded: Number(r.succeeded),
            pending: Number(r.pending),
            pendingRows: r.pending_rows,
            ours: r.ours,
          }
        : { succeeded: 0, pending: 0, pendingRows: 0, ours: 0 };
    };
    // An order still in checkout may hold money its finalize has yet to confirm or refund; only a
    // settled run (every order final) forbids that.
    const inFlight = (o: { status: string }): boolean => !options.settled && !FINAL_ORDER.has(o.status);
    figures.refunds = refundRows.reduce((n, r) => n + r.rows, 0);

    const paid = check(
      'each sold order has one payments row for its total: succeeded, refunded once every cent is back',
    );
    /** Payments `refunded` while a refund of ours is pending: Stripe must hold none of their money. */
    const refundedBeforeRows: { orderId: string; intentId: string | null }[] = [];
    for (const o of orders) {
      if (!wasSold(o)) continue;
      paid.saw();
      const rows = paymentsByOrder.get(o.id) ?? [];
      const row = rows[0];
      const back = refundsOf(o.id);
      if (rows.length !== 1 || !row) {
        paid.fail(`order ${o.id} (${o.status}): ${rows.length} payments rows`);
        continue;
      }
      if (row.amount_cents !== o.total_cents)
        paid.fail(`order ${o.id}: payment ${row.amount_cents} ≠ total ${o.total_cents}`);
      const allBack = Number(row.refunded_cents) === Number(row.amount_cents) && back.pendingRows === 0;
      // Holding orders keep `succeeded` until every cent is back for good; then the order moves too.
      const expected = HOLDING.has(o.status)
        ? 'succeeded'
        : o.status === 'refunded' || back.pendingRows === 0
          ? 'refunded'
          : 'succeeded';
      // A cancelled sale's payment becomes `refunded` as soon as Stripe gave everything back — the
      // backstop's refund of the rest, or charge.refunded — which can come before a refund row of ours
      // for that same money settles (its re-drive finds Stripe's refund and settles it). Allowed only
      // with every cent promised back, and (checked with Stripe's books below) the charge refunded in full.
      const refundedEarly = expected === 'succeeded' && !HOLDING.has(o.status) && row.status === 'refunded';
      if (refundedEarly && Number(row.refunded_cents) !== Number(row.amount_cents))
        paid.fail(
          `order ${o.id} (${o.status}): payment is refunded with a refund pending, but only ` +
            `${row.refunded_cents} of ${row.amount_cents} is promised back`,
        );
      else if (refundedEarly) refundedBeforeRows.push({ orderId: o.id, intentId: row.payment_intent_id });
      else if (row.status !== expected)
        paid.fail(`order ${o.id} (${o.status}): payment is ${row.status}, expected ${expected}`);
      if (HOLDING.has(o.status) && allBack)
        paid.fail(`order ${o.id} is ${o.status} but every cent was refunded`);
      if (!HOLDING.has(o.status) && !allBack && back.pendingRows === 0)
        paid.fail(
          `order ${o.id} (${o.status}): refunded ${row.refunded_cents} of ${row.amount_cents}, nothing pending`,
        );
    }
    figures.payments = payments.length;

    const refundLedger = check(
      'refunded_cents = Σ pending + succeeded refunds; our refunds only of sold orders',
    );
    for (const p of payments) {
      refundLedger.saw();
      const back = refundsOf(p.order_id);
      const order = orderById.get(p.order_id);
      if (Number(p.refunded_cents) !== back.succeeded + back.pending)
        refundLedger.fail(
          `order ${p.order_id}: refunded_cents ${p.refunded_cents} ≠ refunds succeeded ${back.succeeded} + pending ${back.pending}`,
        );
      // Admins and cancellations refund sales; the checkout's backstop and Stripe's dashboard may
      // refund any charge (sources backstop and stripe).
      if (order && !wasSold(order) && back.ours > 0)
        refundLedger.fail(
          `order ${p.order_id} (${order.status}) was never sold but has ${back.ours} refund(s) of ours`,
        );
    }
    if (options.settled) {
      const pendingLeft = check('no refund left pending');
      pendingLeft.saw(refundRows.length);
      for (const r of refundRows)
        if (r.pending_rows > 0) pendingLeft.fail(`order ${r.order_id}: ${r.pending_rows} refund(s) pending`);
    }

    if (options.paymentIntents) {
      const intents = options.paymentIntents();
      const byOrder = new Map<string, FakeIntentView[]>();
      for (const pi of intents) {
        const orderId = pi.metadata?.orderId;
        if (!orderId || !orderById.has(orderId)) continue;
        byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), pi]);
      }
      const money = options.stripeUrl ? await moneyAtStripe(options.stripeUrl, intents) : undefined;
      const psp = check('each sold order has exactly one succeeded PaymentIntent at Stripe');
      for (const o of orders) {
        if (!wasSold(o)) continue;
        psp.saw();
        const mine = byOrder.get(o.id) ?? [];
        // Stripe keeps a refunded intent `succeeded`: the refund lives on its charge.
        const succeeded = mine.filter((pi) => pi.status === 'succeeded');
        if (succeeded.length !== 1)
          psp.fail(
            `order ${o.id} (${o.status}): ${succeeded.length} succeeded of ${mine.length} PaymentIntents`,
          );
        else if (
          String(succeeded[0]!.amount) !== o.total_cents ||
          succeeded[0]!.currency.toLowerCase() !== o.currency.toLowerCase()
        )
          psp.fail(`order ${o.id}: intent ${succeeded[0]!.amount} ${succeeded[0]!.currency} ≠ order total`);
        const row = (paymentsByOrder.get(o.id) ?? [])[0];
        if (row && succeeded[0] && row.payment_intent_id !== succeeded[0].id)
          psp.fail(`order ${o.id}: payments row names ${row.payment_intent_id}, Stripe ${succeeded[0].id}`);
      }

      // Every succeeded intent at the fake, not only those naming an order in scope: a charge without
      // metadata, or for an order nobody stored, is money taken without a sale.
      const noStray = check(
        'every succeeded PaymentIntent is accounted for by a confirmed or shipped order (or refunded)',
      );
      const named = [
        ...new Set(intents.map((pi) => pi.metadata?.orderId).filter((id): id is string => !!id)),
      ].filter((id) => !orderById.has(id));
      const elsewhere = new Set<string>();
      if (named.length > 0) {
        const { rows } = await app.query<{ id: string }>(
          `select id::text from orders where id::text = any($1::text[])`,
          [named],
        );
        for (const r of rows) elsewhere.add(r.id);
      }
      let outOfScope = 0;
      for (const pi of intents) {
        if (pi.status !== 'succeeded') continue;
        const orderId = pi.metadata?.orderId;
        if (orderId && elsewhere.has(orderId)) {
          outOfScope++; // another tenant's order: not this report's to judge
          continue;
        }
        noStray.saw();
        const order = orderId ? orderById.get(orderId) : undefined;
        if (!orderId) noStray.fail(`${pi.id} succeeded (${pi.amount} ${pi.currency}) and names no order`);
        else if (!order) noStray.fail(`${pi.id} succeeded for order ${orderId}, which does not exist`);
        else if (!HOLDING.has(order.status)) {
          const refundedHere = money
            ? (money.get(pi.id)?.refunded ?? 0) >= (money.get(pi.id)?.captured ?? 0)
            : (paymentsByOrder.get(order.id) ?? []).some((p) => p.status === 'refunded');
          // A refund of ours still pending is money on its way back (`settled` forbids it above).
          if (!refundedHere && refundsOf(order.id).pendingRows === 0 && !inFlight(order))
            noStray.fail(`order ${order.id} is ${order.status} but ${pi.id} succeeded and was not refunded`);
        }
      }
      figures.paymentIntents = intents.length;
      figures.paymentIntentsOutOfScope = outOfScope;

      if (money) {
        const kept = check(
          'money at Stripe: captured − refunded = total − succeeded refunds if sold, else 0',
        );
        const atStripe = new Map<string, { captured: number; refunded: number }>();
        for (const [orderId, list] of byOrder)
          atStripe.set(
            orderId,
            list.reduce(
              (n, pi) => ({
                captured: n.captured + (money.get(pi.id)?.captured ?? 0),
                refunded: n.refunded + (money.get(pi.id)?.refunded ?? 0),
              }),
              { captured: 0, refunded: 0 },
            ),
          );
        for (const o of orders) {
          kept.saw();
          const back = refundsOf(o.id);
          const { captured, refunded } = atStripe.get(o.id) ?? { captured: 0, refunded: 0 };
          const actual = captured - refunded;
          // In flight: between nothing and the total, whatever checkout's next step decides.
          const expected = wasSold(o) ? Number(o.total_cents) - back.succeeded : 0;
          const upTo = inFlight(o) ? Number(o.total_cents) : expected;
          // A pending refund may already have been made at Stripe (its answer not yet recorded).
          if (actual > upTo || actual < expected - back.pending)
            kept.fail(
              `order ${o.id} (${o.status}): Stripe keeps ${actual} (captured ${captured} − refunded ${refunded}), ` +
                `our books ${expected}${back.pending ? ` (− up to ${back.pending} pending)` : ''}`,
            );
        }
        for (const { orderId, intentId } of refundedBeforeRows) {
          const m = intentId ? money.get(intentId) : undefined;
          if (!m || m.refunded < m.captured)
            paid.fail(
              `order ${orderId}: payment is refunded with a refund pending, but Stripe refunded ` +
                `${m?.refunded ?? 0} of ${m?.captured ?? 0} on ${intentId}`,
            );
        }
        figures.capturedCents = [...money.values()].reduce((n, m) => n + m.captured, 0);
        figures.refundedCents = [...money.values()].reduce((n, m) => n + m.refunded, 0);
      }
    }

    // ---- 3. audit ---------------------------------------------------------------------------------
    const { rows: outbox } = await app.query<AuditRow & { relayed: boolean }>(
      `select id as outbox_id, entity, entity_id, action, payload, relayed_at is not null as relayed
         from audit_outbox where ($1::uuid[] is null or tenant_id = any($1))`,
      [tenants],
    );
    await app.query('commit');
    figures.outboxRows = outbox.length;
    let logged: AuditRow[] = outbox;
    if (options.relayed ?? true) {
      ({ rows: logged } = await audit.query<AuditRow>(
        `select outbox_id, entity, entity_id, action, payload from audit_log
          where ($1::uuid[] is null or tenant_id = any($1))`,
        [tenants],
      ));
      figures.auditRows = logged.length;
      checkRelay(check('every outbox row relayed to the audit database'), outbox, logged);
    }

    const trail = check(
      `${(options.relayed ?? true) ? 'audit trail' : 'audit outbox'} replays to every order and payment status`,
    );
    const byEntity = new Map<string, AuditRow[]>();
    for (const r of logged) {
      const key = `${r.entity}:${r.entity_id}`;
      byEntity.set(key, [...(byEntity.get(key) ?? []), r]);
    }
    for (const o of orders) {
      trail.saw();
      const replay = replayOrder((byEntity.get(`order:${o.id}`) ?? []).map((r) => r.action));
      if (replay.error) trail.fail(`order ${o.id} (${o.status}): ${replay.error}`);
      else if (replay.status !== o.status)
        trail.fail(`order ${o.id}: audit replays to ${replay.status}, table says ${o.status}`);
    }
    for (const p of payments) {
      trail.saw();
      const { id, order_id } = p;
      const replay = replayPayment(byEntity.get(`payment:${id}`) ?? []);
      if (replay.error) trail.fail(`payment of order ${order_id}: ${replay.error}`);
      else if (replay.status !== p.status)
        trail.fail(`payment of order ${order_id}: audit replays to ${replay.status}, table says ${p.status}`);
      else if ((replay.intent ?? null) !== p.payment_intent_id)
        trail.fail(
          `payment of order ${order_id}: audit names intent ${replay.intent}, table ${p.payment_intent_id}`,
        );
    }
  } finally {
    await app.query('rollback').catch(() => undefined);
  }

  const results = checks.map((c) => c.result());
  // Refuse a vacuous pass: with no product or no order in scope, every check above saw nothing.
  const nothing: string[] = [];
  if ((figures.productsChecked ?? 0) === 0) nothing.push('no product in initialStock');
  if ((figures.orders ?? 0) === 0 && !options.allowNoOrders) nothing.push('no order in scope');
  results.unshift({
    name: 'something was checked',
    ok: nothing.length === 0,
    checked: results.reduce((n, c) => n + c.checked, 0),
    violations: nothing,
  });
  return {
    ok: results.every((c) => c.ok),
    checks: results,
    figures,
    summary: () =>
      results
        .map(
          (c) =>
            `${c.ok ? 'ok  ' : 'FAIL'} ${c.name} (${c.checked} checked)${
              c.ok ? '' : `\n       ${c.violations.join('\n       ')}`
            }`,
        )
        .join('\n'),
  };
}

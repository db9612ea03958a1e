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
 * 1. Stock conservation — per product: initial = available + reserved + sold; reserved = Σ active
 *    reservations; sold = Σ committed reservations; committed reservations belong to confirmed orders
 *    and match their lines exactly.
 * 2. Payments — each confirmed order has exactly one payments row (succeeded) and exactly one succeeded
 *    PaymentIntent at the fake, for the order's amount. Every succeeded PaymentIntent at the fake is
 *    accounted for by an order: it names one (metadata.orderId), that order exists, and it is confirmed
 *    or the money went back (no stray charge, whatever its metadata).
 * 3. Money (with `stripeUrl`) — for every PaymentIntent at the fake, captured − refunded summed per
 *    order equals the order total when the order is confirmed and 0 otherwise (cancelled, failed,
 *    expired): no money kept without a sale, no confirmed order without its money.
 * 4. Audit — every outbox row was relayed, the audit database holds exactly the outbox rows (no loss, no
 *    duplicate), and replaying the audit trail alone reproduces every order's and payment's current
 *    status (so every write of either has its audit row).
 * 5. Reservations — none active past its expiry; with `settled`, every order is final and no
 *    reservation is active at all.
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

/** Order statuses and the statuses each may be entered from (API.md's state machine). */
const ORDER_PREDECESSORS: Record<string, readonly string[]> = {
  pending: [],
  reserved: ['pending'],
  awaiting_payment: ['reserved'],
  requires_action: ['awaiting_payment'],
  paid: ['awaiting_payment', 'requires_action'],
  confirmed: ['paid'],
  failed: ['pending', 'reserved', 'awaiting_payment', 'requires_action'],
  cancelled: ['pending', 'reserved', 'awaiting_payment', 'requires_action'],
  expired: ['pending', 'reserved', 'awaiting_payment', 'requires_action'],
};
const FINAL_ORDER = new Set(['confirmed', 'failed', 'cancelled', 'expired']);

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
    // ---- 1. stock conservation ------------------------------------------------------------------
    const stock = check('stock conservation (initial = available + reserved + sold)');
    const ledger = check('inventory matches reservations (reserved = Σ active, sold = Σ committed)');
    const productIds = [...options.initialStock.keys()];
    const { rows: inv } = await app.query<{
      product_id: string;
      available: number;
      reserved: number;
      sold: number;
      active: number;
      committed: number;
    }>(
      `select i.product_id, i.available, i.reserved, i.sold,
              coalesce(sum(r.quantity) filter (where r.status = 'active'), 0)::int as active,
              coalesce(sum(r.quantity) filter (where r.status = 'committed'), 0)::int as committed
         from inventory i left join reservations r on r.product_id = i.product_id
        where i.product_id = any($1::uuid[])
        group by i.product_id, i.available, i.reserved, i.sold`,
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
      const total = row.available + row.reserved + row.sold;
      if (total !== initial || row.available < 0)
        stock.fail(
          `product ${productId}: initial ${initial} ≠ available ${row.available} + reserved ${row.reserved} + sold ${row.sold}`,
        );
      if (row.reserved !== row.active || row.sold !== row.committed)
        ledger.fail(
          `product ${productId}: reserved ${row.reserved} vs active reservations ${row.active}; sold ${row.sold} vs committed ${row.committed}`,
        );
    }
    figures.productsChecked = productIds.length;
    figures.unitsSold = inv.reduce((n, r) => n + r.sold, 0);

    // ---- orders, reservations, payments of the tenants in scope -----------------------------------
    const { rows: orders } = await app.query<{
      id: string;
      status: string;
      total_cents: string;
      currency: string;
    }>(
      `select id, status, total_cents::text, currency from orders where ($1::uuid[] is null or tenant_id = any($1))`,
      [tenants],
    );
    const orderById = new Map(orders.map((o) => [o.id, o]));
    for (const o of orders) figures[`orders.${o.status}`] = (figures[`orders.${o.status}`] ?? 0) + 1;
    figures.orders = orders.length;

    const totals = check('order total = Σ line totals, line total = unit price × quantity');
    const { rows: badTotals } = await app.query<{
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
    totals.saw(orders.length);
    for (const r of badTotals)
      totals.fail(
        `order ${r.id}: total ${r.total}, lines sum to ${r.lines ?? 0}, ${r.bad_lines} line(s) ≠ price × quantity`,
      );

    const committedMatch = check('committed reservations = lines of confirmed orders');
    const { rows: lineVsRes } = await app.query<{
      order_id: string;
      product_id: string | null;
      line_qty: number | null;
      committed: number | null;
    }>(
      `with lines as (
         select l.order_id, l.product_id, sum(l.quantity)::int as qty from order_lines l
           join orders o on o.id = l.order_id
          where o.status = 'confirmed' and ($1::uuid[] is null or o.tenant_id = any($1))
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
      [tenants],
    );
    committedMatch.saw(orders.filter((o) => o.status === 'confirmed').length);
    for (const r of lineVsRes)
      committedMatch.fail(
        `order ${r.order_id} (${orderById.get(r.order_id)?.status ?? '?'}) product ${r.product_id}: lines ${r.line_qty ?? 0}, committed ${r.committed ?? 0}`,
      );

    const expiry = check('no active reservation past its expiry');
    const grace = options.expiryGraceSeconds ?? 0;
    const { rows: overdue } = await app.query<{ product_id: string; order_id: string; late: number }>(
      `select product_id, order_id, extract(epoch from now() - expires_at)::int as late from reservations
        where status = 'active' and expires_at < now() - make_interval(secs => $2)
          and ($1::uuid[] is null or tenant_id = any($1))`,
      [tenants, grace],
    );
    const { rows: activeRows } = await app.query<{ order_id: string; status: string }>(
      `select r.order_id, o.status from reservations r join orders o on o.id = r.order_id
        where r.status = 'active' and ($1::uuid[] is null or r.tenant_id = any($1))`,
      [tenants],
    );
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

    // ---- 2. payments ------------------------------------------------------------------------------
    const { rows: payments } = await app.query<{
      id: string;
      order_id: string;
      status: string;
      payment_intent_id: string | null;
      amount_cents: string;
    }>(
      `select id, order_id, status, payment_intent_id, amount_cents::text from payments
        where ($1::uuid[] is null or tenant_id = any($1))`,
      [tenants],
    );
    const paymentsByOrder = new Map<string, typeof payments>();
    for (const p of payments)
      paymentsByOrder.set(p.order_id, [...(paymentsByOrder.get(p.order_id) ?? []), p]);
    const paid = check('each confirmed order has one succeeded payments row');
    for (const o of orders) {
      if (o.status !== 'confirmed') continue;
      paid.saw();
      const rows = paymentsByOrder.get(o.id) ?? [];
      if (rows.length !== 1) paid.fail(`order ${o.id}: ${rows.length} payments rows`);
      else if (rows[0]!.status !== 'succeeded') paid.fail(`order ${o.id}: payment is ${rows[0]!.status}`);
      else if (rows[0]!.amount_cents !== o.total_cents)
        paid.fail(`order ${o.id}: payment ${rows[0]!.amount_cents} ≠ total ${o.total_cents}`);
    }
    figures.payments = payments.length;

    if (options.paymentIntents) {
      const intents = options.paymentIntents();
      const byOrder = new Map<string, FakeIntentView[]>();
      for (const pi of intents) {
        const orderId = pi.metadata?.orderId;
        if (!orderId || !orderById.has(orderId)) continue;
        byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), pi]);
      }
      const money = options.stripeUrl ? await moneyAtStripe(options.stripeUrl, intents) : undefined;
      const psp = check('each confirmed order has exactly one succeeded PaymentIntent at Stripe');
      for (const o of orders) {
        if (o.status !== 'confirmed') continue;
        psp.saw();
        const mine = byOrder.get(o.id) ?? [];
        const succeeded = mine.filter((pi) => pi.status === 'succeeded');
        if (succeeded.length !== 1)
          psp.fail(`order ${o.id}: ${succeeded.length} succeeded of ${mine.length} PaymentIntents`);
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
        'every succeeded PaymentIntent is accounted for by a confirmed order (or refunded)',
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
        else if (order.status !== 'confirmed') {
          const refundedHere = money
            ? (money.get(pi.id)?.refunded ?? 0) >= (money.get(pi.id)?.captured ?? 0)
            : (paymentsByOrder.get(order.id) ?? []).some((p) => p.status === 'refunded');
          if (!refundedHere)
            noStray.fail(`order ${order.id} is ${order.status} but ${pi.id} succeeded and was not refunded`);
        }
      }
      figures.paymentIntents = intents.length;
      figures.paymentIntentsOutOfScope = outOfScope;

      if (money) {
        const kept = check('money at Stripe: captured − refunded = order total if confirmed, else 0');
        const net = new Map<string, number>();
        for (const [orderId, list] of byOrder)
          net.set(
            orderId,
            list.reduce(
              (n, pi) => n + (money.get(pi.id)?.captured ?? 0) - (money.get(pi.id)?.refunded ?? 0),
              0,
            ),
          );
        for (const o of orders) {
          kept.saw();
          const expected = o.status === 'confirmed' ? Number(o.total_cents) : 0;
          const actual = net.get(o.id) ?? 0;
          if (actual !== expected)
            kept.fail(`order ${o.id} (${o.status}): Stripe keeps ${actual}, expected ${expected}`);
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
    const { rows: logged } = await audit.query<AuditRow>(
      `select outbox_id, entity, entity_id, action, payload from audit_log
        where ($1::uuid[] is null or tenant_id = any($1))`,
      [tenants],
    );
    figures.outboxRows = outbox.length;
    figures.auditRows = logged.length;

    const relayed = check('every outbox row relayed to the audit database');
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

    const trail = check('audit trail replays to every order and payment status');
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

import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { accessTokenFor, createUser, type TestUser } from '../../fixtures/users.js';
import { sleep, waitUntil } from '../../support/faults.js';
import { SAMPLE_ADDRESS } from '../../fixtures/address.js';

/**
 * Shopping through a running host for the fault suites: customers with carts, checkouts that retry
 * like a real client (same Idempotency-Key after a 5xx or a dropped connection), and waiting for
 * orders to settle, the sweeper and the audit relay. `baseUrl()`/`hostUrl()` are functions because a
 * restarted host listens on a new port.
 */
export interface Shop {
  tenantId: string;
  /** The app database (observer connection). */
  pool: pg.Pool;
  baseUrl(): string;
  hostUrl(): string;
  /** The running host's master key (its admin API needs it, as on Azure). */
  masterKey(): string;
}

/** The shop behind `host()` — a function, so a restarted host (new port, new keys) is followed. */
export function shopThrough(
  tenantId: string,
  pool: pg.Pool,
  host: () => { baseUrl: string; url: string; masterKey: string },
): Shop {
  return {
    tenantId,
    pool,
    baseUrl: () => host().baseUrl,
    hostUrl: () => host().url,
    masterKey: () => host().masterKey,
  };
}

export interface Shopper {
  user: TestUser;
  token: string;
}

/** Where a checkout ends, and where an admin may take a confirmed order after (refunded, shipped). */
export const FINAL_STATUSES = ['confirmed', 'failed', 'cancelled', 'expired', 'refunded', 'shipped'];

/** A customer whose cart holds `lines` (written directly: the cart API is not under test here). */
export async function shopperWithCart(
  shop: Shop,
  lines: { productId: string; quantity: number }[],
): Promise<Shopper> {
  const user = await createUser(shop.tenantId);
  const cartId = randomUUID();
  await shop.pool.query('insert into carts (id, tenant_id, user_id, version) values ($1, $2, $3, 1)', [
    cartId,
    shop.tenantId,
    user.id,
  ]);
  for (const line of lines)
    await shop.pool.query(
      'insert into cart_lines (id, tenant_id, cart_id, product_id, quantity) values ($1, $2, $3, $4, $5)',
      [randomUUID(), shop.tenantId, cartId, line.productId, line.quantity],
    );
  return { user, token: await accessTokenFor(user) };
}

export interface Placed {
  orderId: string;
  key: string;
  /** Every answer the client saw, in order (0 = no answer / connection error). */
  attempts: number[];
}

/**
 * POST /checkout until it answers 202 (or a 4xx, which is returned as a failure), re-sending the same
 * Idempotency-Key after 5xx answers and network errors — what a well-behaved client does.
 */
export async function placeOrder(
  shop: Shop,
  shopper: Shopper,
  paymentMethodId: string,
  { deadlineMs = 60_000, key = randomUUID() }: { deadlineMs?: number; key?: string } = {},
): Promise<Placed> {
  const attempts: number[] = [];
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    let status = 0;
    try {
      const res = await fetch(`${shop.baseUrl()}/checkout`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${shopper.token}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify({ paymentMethodId, shippingAddress: SAMPLE_ADDRESS }),
        signal: AbortSignal.timeout(20_000),
      });
      status = res.status;
      const body = (await res.json().catch(() => ({}))) as { orderId?: string };
      attempts.push(status);
      if (status === 202 && body.orderId) return { orderId: body.orderId, key, attempts };
      if (status >= 400 && status < 500)
        throw new Error(`checkout answered ${status}: ${JSON.stringify(body)}`);
    } catch (error) {
      if (status >= 400 && status < 500) throw error;
      if (status === 0) attempts.push(0);
    }
    if (Date.now() > deadline)
      throw new Error(`checkout never accepted within ${deadlineMs} ms (answers: ${attempts.join(',')})`);
    await sleep(200 + Math.min(2_000, 100 * attempts.length));
  }
}

export async function orderStatuses(
  pool: pg.Pool,
  ids: readonly string[],
): Promise<Map<string, { status: string; failureReason: string | null }>> {
  const { rows } = await pool.query<{ id: string; status: string; failure_reason: string | null }>(
    'select id, status, failure_reason from orders where id = any($1::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, { status: r.status, failureReason: r.failure_reason }]));
}

/** Runs a timer function of the host now (the host's admin API). */
export async function runTimer(shop: Shop, name: string): Promise<void> {
  const res = await fetch(`${shop.hostUrl()}/admin/functions/${name}`, {
    method: 'POST',
    body: '{}',
    headers: { 'x-functions-key': shop.masterKey() },
  });
  if (res.status !== 202) throw new Error(`running ${name}: ${res.status}`);
}

/**
 * Waits until every order is final. Every `sweepEveryMs` the reservation sweeper is run (the backstop
 * for orchestrations that died); how many orders it had to expire is reported by the caller from the
 * failure reasons (`reservation_expired`).
 */
export async function waitSettled(
  shop: Shop,
  ids: readonly string[],
  { timeoutMs = 60_000, sweepEveryMs = 0 }: { timeoutMs?: number; sweepEveryMs?: number } = {},
): Promise<Map<string, { status: string; failureReason: string | null }>> {
  let lastSweep = Date.now();
  let last = new Map<string, { status: string; failureReason: string | null }>();
  try {
    return await waitUntil(
      `${ids.length} orders to settle`,
      async () => {
        if (sweepEveryMs > 0 && Date.now() - lastSweep > sweepEveryMs) {
          lastSweep = Date.now();
          await runTimer(shop, 'reservationSweeper').catch(() => undefined);
        }
        last = await orderStatuses(shop.pool, ids);
        return ids.every((id) => FINAL_STATUSES.includes(last.get(id)?.status ?? '')) ? last : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  } catch (error) {
    const open = ids
      .filter((id) => !FINAL_STATUSES.includes(last.get(id)?.status ?? ''))
      .map((id) => `${id}:${last.get(id)?.status ?? 'missing'}`);
    throw new Error(`${(error as Error).message}; still open: ${open.slice(0, 10).join(', ')}`, {
      cause: error,
    });
  }
}

/** Runs the audit relay until the outbox has nothing pending. */
export async function drainAudit(shop: Shop, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    'the audit outbox to drain',
    async () => {
      const { rows } = await shop.pool.query<{ n: number }>(
        'select count(*)::int as n from audit_outbox where relayed_at is null',
      );
      if (rows[0]!.n === 0) return true;
      await runTimer(shop, 'auditRelay');
      return undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

export async function stockOf(
  pool: pg.Pool,
  productId: string,
): Promise<{ available: number; reserved: number; sold: number }> {
  const { rows } = await pool.query<{ available: number; reserved: number; sold: number }>(
    'select available, reserved, sold from inventory where product_id = $1',
    [productId],
  );
  return rows[0]!;
}

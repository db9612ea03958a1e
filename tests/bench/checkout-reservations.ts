import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { runUnitOfWork } from '../../shared/db/unit-of-work.js';
import { silentLogger } from '../../shared/logging/logger.js';
import { CheckoutSaga } from '../../shared/services/checkout/checkout-saga.js';
import type { DomainContext } from '../../shared/services/context.js';
import { InventoryService } from '../../shared/services/inventory/inventory-service.js';
import { percentile } from './scratch-db.js';

/**
 * Reservation throughput: the project's reservation code against the bare conditional UPDATE and the
 * old platform's pessimistic pattern, on one hot product and on 10k products, same database, same
 * run, same number of concurrent workers. Every pattern runs once per round, and the order rotates
 * from round to round (each pattern first in one round, after a different one in the next), so drift
 * (autovacuum, page cache, a noisy neighbour) hits all of them alike; each figure is the median round.
 */

export interface PatternStats {
  tps: number;
  p50: number;
  p99: number;
  errors: number;
}

export interface ReservationBenchOptions {
  url: string;
  workers: number;
  seconds: number;
  rounds: number;
  log: (line: string) => void;
}

type Op = () => Promise<void>;

async function measure(workers: number, seconds: number, op: Op): Promise<PatternStats> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await op();
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    tps: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

/** Pre-made pending orders (reservation rows reference an order; each attempt needs a fresh one). */
class OrderPool {
  private ids: string[] = [];
  private next = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly tenantId: string,
    private readonly userId: string,
    private readonly lineProduct: (() => string) | undefined,
  ) {}

  async fill(count: number): Promise<void> {
    const { rows } = await this.pool.query<{ id: string }>(
      `insert into orders (id, tenant_id, user_id, status, total_cents, currency, idempotency_key, request_hash,
         payment_method_id)
       select gen_random_uuid(), $1, $2, 'pending', 100, 'USD', gen_random_uuid()::text, 'bench', 'pm_card_visa'
       from generate_series(1, $3) returning id`,
      [this.tenantId, this.userId, count],
    );
    const ids = rows.map((r) => r.id);
    if (this.lineProduct) {
      const products = ids.map(() => this.lineProduct!());
      await this.pool.query(
        `insert into order_lines (id, tenant_id, order_id, product_id, name, quantity, unit_price_cents, line_total_cents)
         select gen_random_uuid(), $1, o, p, 'Bench', 1, 100, 100 from unnest($2::uuid[], $3::uuid[]) as t(o, p)`,
        [this.tenantId, ids, products],
      );
    }
    this.ids = this.ids.slice(this.next).concat(ids);
    this.next = 0;
  }

  take(): string {
    const id = this.ids[this.next++];
    if (!id) throw new Error('order pool exhausted');
    return id;
  }

  remaining(): number {
    return this.ids.length - this.next;
  }
}

interface Dataset {
  label: string;
  productFor: () => string;
}

export interface ReservationBenchResult {
  dataset: string;
  bare: PatternStats;
  pessimistic: PatternStats;
  project: PatternStats;
  step: PatternStats;
}

/**
 * After bulk-made orders: fresh statistics (with stale ones the planner scans the whole tenant for an
 * order's lines), the vacuum autovacuum would otherwise start mid-measurement, and their dirty pages
 * written out now rather than by a checkpoint during some pattern's round.
 */
async function settle(pool: pg.Pool): Promise<void> {
  await pool.query('vacuum analyze orders, order_lines');
  // Needs superuser or pg_checkpoint; without it the writes just happen later.
  await pool.query('checkpoint').catch(() => undefined);
}

function median(values: PatternStats[]): PatternStats {
  const sorted = [...values].sort((a, b) => a.tps - b.tps);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function runReservationBench(
  options: ReservationBenchOptions,
): Promise<ReservationBenchResult[]> {
  const { url, workers, seconds, rounds, log } = options;
  // Idle connections are kept for the whole run: reconnecting inside a baseline's round would slow the
  // denominator (the ORM's pool keeps its own for 30 s, longer than any gap between its rounds).
  const pool = new pg.Pool({ connectionString: url, max: workers, idleTimeoutMillis: 0 });
  pool.on('error', () => undefined);
  try {
    const tenantId = randomUUID();
    const userId = randomUUID();
    await pool.query(`insert into tenants (id, slug, name) values ($1, $2, 'Bench')`, [
      tenantId,
      `bench-${tenantId.slice(0, 8)}`,
    ]);
    await pool.query(
      `insert into users (id, tenant_id, email_enc, email_bidx, name, password_hash) values ($1, $2, 'x', $3, 'Bench', 'x')`,
      [userId, tenantId, `bench-${userId}`],
    );
    // Stock high enough never to run out: every attempt is a successful decrement in all patterns.
    const { rows: hotRows } = await pool.query<{ id: string }>(
      `with p as (insert into products (id, tenant_id, sku, name, price_cents, currency)
         values (gen_random_uuid(), $1, 'HOT', 'Hot product', 100, 'USD') returning id)
       insert into inventory (product_id, tenant_id, available) select id, $1, 1000000000 from p returning product_id as id`,
      [tenantId],
    );
    const hot = hotRows[0]!.id;
    const { rows: spreadRows } = await pool.query<{ id: string }>(
      `with p as (insert into products (id, tenant_id, sku, name, price_cents, currency)
         select gen_random_uuid(), $1, 'SKU-' || g, 'Product ' || g, 100, 'USD' from generate_series(1, 10000) g
         returning id)
       insert into inventory (product_id, tenant_id, available) select id, $1, 100000000 from p returning product_id as id`,
      [tenantId],
    );
    const spread = spreadRows.map((r) => r.id);
    await pool.query('vacuum analyze inventory');

    const datasets: Dataset[] = [
      { label: 'one hot product', productFor: () => hot },
      { label: '10k products, random', productFor: () => spread[Math.floor(Math.random() * spread.length)]! },
    ];
    const results: ReservationBenchResult[] = [];

    for (const dataset of datasets) {
      const ctx = (em: DomainContext['em']): DomainContext => ({
        em,
        tenantId,
        log: silentLogger,
        correlationId: 'bench',
      });
      const bare: Op = async () => {
        const r = await pool.query(
          `update inventory set available = available - $1, reserved = reserved + $1, updated_at = now()
           where product_id = $2 and tenant_id = $3 and available >= $1 returning available`,
          [1, dataset.productFor(), tenantId],
        );
        if (r.rowCount !== 1) throw new Error('out of stock');
      };
      const pessimistic: Op = async () => {
        const client = await pool.connect();
        try {
          await client.query('begin');
          const product = dataset.productFor();
          const r = await client.query<{ available: number }>(
            'select available from inventory where product_id = $1 and tenant_id = $2 for update',
            [product, tenantId],
          );
          if ((r.rows[0]?.available ?? 0) < 1) throw new Error('out of stock');
          await client.query(
            `update inventory set available = available - 1, reserved = reserved + 1, updated_at = now()
             where product_id = $1 and tenant_id = $2`,
            [product, tenantId],
          );
          await client.query('commit');
        } catch (error) {
          await client.query('rollback');
          throw error;
        } finally {
          client.release();
        }
      };
      const orders = new OrderPool(pool, tenantId, userId, undefined);
      const project: Op = () =>
        runUnitOfWork('read', (em) =>
          new InventoryService(ctx(em)).reserve(
            orders.take(),
            [{ productId: dataset.productFor(), quantity: 1 }],
            600,
          ),
        );
      const stepOrders = new OrderPool(pool, tenantId, userId, dataset.productFor);
      const steps = new CheckoutSaga(silentLogger);
      const step: Op = async () => {
        const outcome = await steps.reserve({
          orderId: stepOrders.take(),
          tenantId,
          paymentTimeoutSeconds: 900,
        });
        if (outcome.outcome !== 'reserved') throw new Error(outcome.outcome);
      };

      const patterns: { name: keyof Omit<ReservationBenchResult, 'dataset'>; op: Op; orders?: OrderPool }[] =
        [
          { name: 'bare', op: bare },
          { name: 'pessimistic', op: pessimistic },
          { name: 'project', op: project, orders },
          { name: 'step', op: step, orders: stepOrders },
        ];
      const samples: Record<string, PatternStats[]> = { bare: [], pessimistic: [], project: [], step: [] };
      // Orders are made BEFORE a round, never between its patterns: a bulk insert leaves dirty pages,
      // WAL and an autovacuum behind, which would land on whichever pattern is measured next. Enough for
      // the fastest plausible rate; topped up (at a round's start) only when a round could run short.
      const budget = Math.ceil(seconds * 30_000);
      const rate = new Map<OrderPool, number>();
      for (let round = 0; round <= rounds; round++) {
        const short = patterns.flatMap(({ orders }) => {
          const known = orders && rate.get(orders);
          const needed = known === undefined ? budget : 2 * known * seconds;
          return orders && orders.remaining() < needed ? [orders] : [];
        });
        if (short.length > 0) {
          for (const orders of short) await orders.fill(budget);
          await settle(pool);
          // A long top-up may have outlived the ORM pool's idle connections: reopen them unmeasured.
          if (round > 0) for (const pattern of patterns) await measure(workers, 0.5, pattern.op);
        }
        // Each round starts with another pattern (rotation): whatever a pattern leaves behind — dirty
        // pages, an autovacuum, a warmer cache — lands on a different successor every round.
        const order = patterns.map((_, i) => patterns[(i + round) % patterns.length]!);
        log(`  ${dataset.label} · round ${round} order: ${order.map((p) => p.name).join(' → ')}`);
        for (const pattern of order) {
          const before = pattern.orders?.remaining() ?? 0;
          const duration = round === 0 ? Math.min(1.5, seconds) : seconds;
          // Round 0 is the warm-up (connections, JIT, caches) and is not counted.
          const stats = await measure(workers, duration, pattern.op);
          if (pattern.orders) rate.set(pattern.orders, (before - pattern.orders.remaining()) / duration);
          if (round > 0) samples[pattern.name]!.push(stats);
          log(
            `  ${dataset.label} · ${round === 0 ? 'warm-up' : `round ${round}/${rounds}`} · ${pattern.name}: ${stats.tps.toFixed(0)}/s` +
              (stats.errors ? ` (${stats.errors} errors)` : ''),
          );
        }
      }
      results.push({
        dataset: dataset.label,
        bare: median(samples.bare!),
        pessimistic: median(samples.pessimistic!),
        project: median(samples.project!),
        step: median(samples.step!),
      });
    }
    return results;
  } finally {
    await pool.end();
  }
}

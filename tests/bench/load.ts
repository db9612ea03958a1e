import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { AccessTokenService } from '../../shared/services/auth/access-token.js';
import { CART_WRITE_RATE_LIMIT, CHECKOUT_RATE_LIMIT } from '../../shared/services/rate-limit/limits.js';
import { waitUntil } from '../support/faults.js';
import { spawnHost, type HostProcess } from '../support/host-process.js';
import { checkInvariants, type InvariantReport } from '../support/invariants.js';
import { Progress } from './progress.js';
import { createScratchDatabase, percentile, type ScratchDatabase } from './scratch-db.js';
import { SAMPLE_ADDRESS } from '../fixtures/address.js';
import { benchRedisUrl, describeServices, loadLine, removeRedisKeys } from './services.js';

/**
 * `npm run bench load [-- --seconds 60 --concurrency 16]`: a bounded mixed workload through the local
 * Functions host on loopback — browse the product list, product details, search, cart reads and
 * writes, checkouts — from a clean checkout with no settings: a scratch database pair, the machine's
 * Redis (127.0.0.1:6379, a key prefix of its own, removed afterwards), a fake Stripe of its own, and
 * the compiled host as a child process. Closed loop: N virtual users, each running one request after
 * another for the duration as a customer; a virtual user moves on to a fresh customer after each
 * order (or before its customer's cart writes or checkouts could reach the production per-user rate
 * limits of shared/services/rate-limit/limits.ts, or the fair-stock cap on open unpaid orders), so
 * the run measures the API, not the limiter: a shop's traffic comes from many customers, and one
 * script hammering one account is what those limits exist to stop.
 *
 * Printed: throughput and p50/p99 per operation, each beside the same run's HTTP floor (an invalid
 * product id: host + function pipeline, answered 400 before any database or cache access) as a ratio;
 * errors (any answer that is not the expected 2xx/304, or no answer — must be zero); how the orders
 * ended; and the invariants of tests/support/invariants.ts after every order settled.
 */

interface Options {
  seconds: number;
  concurrency: number;
  products: number;
  hotProducts: number;
  hotStock: number;
  floorSeconds: number;
}

function parse(args: string[]): Options {
  const options: Options = {
    seconds: 60,
    concurrency: 16,
    products: 500,
    hotProducts: 10,
    hotStock: 40,
    floorSeconds: 5,
  };
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]!);
    if (!m) throw new Error(`unknown argument ${args[i]}`);
    const value = Number(m[2] ?? args[++i]);
    const key = m[1]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Options;
    if (!(key in options) || !Number.isFinite(value) || value <= 0)
      throw new Error(`bad argument ${args[i]}`);
    options[key] = value;
  }
  return options;
}

type Op = 'list' | 'detail' | 'search' | 'cartGet' | 'cartPut' | 'checkout' | 'cartClear';
const MIX: [Op, number][] = [
  ['list', 28],
  ['detail', 30],
  ['search', 15],
  ['cartGet', 10],
  ['cartPut', 13],
  ['checkout', 4],
  // Not drawn: every checkout is followed by emptying the cart, so each order is a fresh basket.
  ['cartClear', 0],
];
const LABEL: Record<Op | 'floor', string> = {
  floor: 'floor: GET /products/{bad id} → 400',
  list: 'GET /products',
  detail: 'GET /products/{id}',
  search: 'GET /products/search',
  cartGet: 'GET /cart',
  cartPut: 'PUT /cart/items/{id}',
  checkout: 'POST /checkout (202)',
  cartClear: 'DELETE /cart',
};
const WORDS = ['mug', 'kettle', 'tea', 'coffee', 'grinder', 'filter', 'stoneware', 'glass', 'steel', 'oak'];
const ADJECTIVES = [
  'blue',
  'large',
  'small',
  'classic',
  'matte',
  'glazed',
  'travel',
  'double',
  'slim',
  'warm',
];

/** Deterministic choices (mulberry32), so two runs send the same mix. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Recorder {
  readonly latencies = new Map<string, number[]>();
  readonly errors = new Map<string, number>();
  /** Expected business refusals (e.g. 409 sold out), counted apart from errors. */
  readonly refused = new Map<string, number>();
  readonly samples: string[] = [];
  /** 429 answers (a rate limit hit: the run measured the limiter, not the API); also counted as errors. */
  rateLimited = 0;
  record(op: string, ms: number): void {
    let list = this.latencies.get(op);
    if (!list) this.latencies.set(op, (list = []));
    list.push(ms);
  }
  error(op: string, what: string): void {
    this.errors.set(op, (this.errors.get(op) ?? 0) + 1);
    if (this.samples.length < 10) this.samples.push(`${op}: ${what}`);
  }
  /** Answered requests of the workload (2xx and refusals alike: both are work the host did). */
  count(): number {
    let n = 0;
    for (const l of this.latencies.values()) n += l.length;
    return n;
  }
  errorCount(): number {
    let n = 0;
    for (const e of this.errors.values()) n += e;
    return n;
  }
}

interface Customer {
  userId: string;
  headers: Record<string, string>;
  cartFilled: boolean;
  clearNext: boolean;
  /** Requests of this customer that count against CART_WRITE_RATE_LIMIT / CHECKOUT_RATE_LIMIT. */
  cartWrites: number;
  checkouts: number;
  /** Placed an order (then cleared its cart): the virtual user takes a fresh customer. */
  done: boolean;
}

/** A customer may make this many more requests of a limited kind (one is kept for the cart clear). */
const spent = (c: Customer): boolean =>
  c.done || c.cartWrites >= CART_WRITE_RATE_LIMIT.points - 2 || c.checkouts >= CHECKOUT_RATE_LIMIT.points - 1;

/**
 * Customers made ahead of use (users rows and access tokens), refilled in batches while the load runs
 * so a virtual user rarely waits for one.
 */
class CustomerPool {
  readonly #spare: Customer[] = [];
  #refilling: Promise<void> | undefined;
  created = 0;

  constructor(
    private readonly make: (n: number) => Promise<Customer[]>,
    private readonly batch: number,
  ) {}

  async fill(n: number): Promise<void> {
    const made = await this.make(n);
    this.created += made.length;
    this.#spare.push(...made);
  }

  async take(): Promise<Customer> {
    if (this.#spare.length <= this.batch)
      this.#refilling ??= this.fill(this.batch).finally(() => (this.#refilling = undefined));
    while (this.#spare.length === 0) await this.#refilling;
    return this.#spare.pop()!;
  }
}

async function timed(
  recorder: Recorder,
  op: string,
  url: string,
  init: RequestInit,
  ok: (status: number) => boolean,
  refusal: (status: number, body: string) => boolean = () => false,
): Promise<Response | undefined> {
  const started = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    const body = await res.arrayBuffer();
    const ms = performance.now() - started;
    if (!ok(res.status)) {
      if (res.status === 429) recorder.rateLimited++;
      const text = Buffer.from(body).toString('utf8');
      if (refusal(res.status, text)) {
        // Counted apart: a refusal is not the operation's success, its latency not the 2xx row's.
        recorder.refused.set(op, (recorder.refused.get(op) ?? 0) + 1);
        recorder.record(`${op}:refused`, ms);
      } else recorder.error(op, `${res.status} ${text.slice(0, 160)}`);
      return undefined;
    }
    recorder.record(op, ms);
    return new Response(body, { status: res.status, headers: res.headers });
  } catch (error) {
    recorder.error(op, error instanceof Error ? error.message : String(error));
    return undefined;
  }
}

function ms(n: number): string {
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}

export async function run(args: string[]): Promise<void> {
  const options = parse(args);
  const log = (line: string): void => console.log(line);
  const redisPrefix = `bench:load:${randomBytes(4).toString('hex')}:`;
  const redisUrl = process.env.BENCH_REDIS_URL ?? benchRedisUrl();
  let scratch: ScratchDatabase | undefined;
  let fake: FakeStripe | undefined;
  let host: HostProcess | undefined;
  let pool: pg.Pool | undefined;
  try {
    process.stderr.write('load: preparing a scratch database, the fake Stripe and the host…\n');
    scratch = await createScratchDatabase('load');
    pool = new pg.Pool({ connectionString: scratch.url, max: 4, application_name: 'reliability-observer' });
    pool.on('error', () => undefined);
    const webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;
    const signingKeys = `load:${randomBytes(32).toString('base64url')}`;
    fake = await startFakeStripe({ webhookSecret });
    host = await spawnHost({
      inheritEnv: false,
      env: {
        APP_ENV: 'local',
        DATABASE_URL: scratch.url,
        AUDIT_DATABASE_URL: scratch.auditUrl,
        DATABASE_POOL_MAX: '20',
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: redisPrefix,
        STRIPE_API_BASE: fake.url,
        STRIPE_SECRET_KEY: `sk_test_${randomBytes(18).toString('base64url')}`,
        STRIPE_WEBHOOK_SECRET: webhookSecret,
        JWT_SIGNING_KEYS: signingKeys,
        ADMIN_TOKEN: randomBytes(32).toString('base64url'),
        FERNET_KEYS: randomBytes(32).toString('base64url') + '=',
        BLIND_INDEX_KEY: randomBytes(32).toString('base64url'),
        CURSOR_SIGNING_KEYS: `bench:${randomBytes(32).toString('base64url')}`,
        LOG_LEVEL: 'warn',
      },
    });
    fake.setWebhookUrl(`${host.baseUrl}/webhooks/stripe`);
    const base = host.baseUrl;

    // ---- seed: one tenant, products (a few scarce), one customer per virtual user ----------------
    const tenantId = randomUUID();
    await pool.query(`insert into tenants (id, slug, name) values ($1, $2, 'Load shop')`, [
      tenantId,
      `load-${tenantId.slice(0, 8)}`,
    ]);
    const random = prng(20_261_127);
    const products: string[] = [];
    const initialStock = new Map<string, number>();
    for (let i = 0; i < options.products; i++) {
      const id = randomUUID();
      const hot = i < options.hotProducts;
      const name = `${ADJECTIVES[i % ADJECTIVES.length]} ${WORDS[Math.floor(i / ADJECTIVES.length) % WORDS.length]} ${i}`;
      const stock = hot ? options.hotStock : 100_000;
      await pool.query(
        `insert into products (id, tenant_id, sku, name, description, price_cents, currency) values ($1, $2, $3, $4, $5, $6, 'USD')`,
        [
          id,
          tenantId,
          `LOAD-${i}`,
          name,
          `A ${name} for the load test, ${WORDS[i % WORDS.length]} lovers.`,
          500 + ((i * 37) % 9_500),
        ],
      );
      await pool.query('insert into inventory (product_id, tenant_id, available) values ($1, $2, $3)', [
        id,
        tenantId,
        stock,
      ]);
      products.push(id);
      initialStock.set(id, stock);
    }
    const tokens = new AccessTokenService({
      issuer: 'ecommerce-api',
      audience: 'ecommerce-api-clients',
      signingKeys,
    });
    const makeCustomers = async (n: number): Promise<Customer[]> => {
      const ids = Array.from({ length: n }, () => randomUUID());
      await pool!.query(
        `insert into users (id, tenant_id, email_enc, email_bidx, name, password_hash, password_changed_at)
         select id, $2, 'load', 'load-' || id, 'Load user', 'x', now() - interval '1 minute'
           from unnest($1::uuid[]) as id`,
        [ids, tenantId],
      );
      return Promise.all(
        ids.map(async (userId) => ({
          userId,
          headers: {
            authorization: `Bearer ${await tokens.issue({ userId, tenantId, roles: ['customer'] })}`,
            'content-type': 'application/json',
          },
          cartFilled: false,
          clearNext: false,
          cartWrites: 0,
          checkouts: 0,
          done: false,
        })),
      );
    };
    const customerPool = new CustomerPool(makeCustomers, options.concurrency);
    await customerPool.fill(options.concurrency * 4);
    const anonymous = { 'x-tenant-id': tenantId };

    // ---- the floor: the same host and pipeline, no database or cache ------------------------------
    // Measured warm (after an unrecorded warm-up of the same requests) and in two halves, one before
    // and one after the mixed workload, so the floor sees the same machine state the workload saw.
    const floor = new Recorder();
    const floorRun = async (seconds: number, into: Recorder): Promise<void> => {
      const until = Date.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          while (Date.now() < until)
            await timed(
              into,
              'floor',
              `${base}/products/not-a-uuid`,
              { headers: anonymous },
              (s) => s === 400,
            );
        }),
      );
    };
    await floorRun(2, new Recorder());
    await floorRun(options.floorSeconds / 2, floor);

    // ---- the mixed workload -----------------------------------------------------------------------
    const recorder = new Recorder();
    const orderIds: string[] = [];
    const pick = (scarceShare = 0.2): string => {
      // A share of the picks goes to the scarce products: they sell out, checkouts then fail for stock.
      const hot = random() < scarceShare && options.hotProducts > 0;
      const range = hot ? options.hotProducts : options.products - options.hotProducts;
      return products[(hot ? 0 : options.hotProducts) + Math.floor(random() * range)]!;
    };
    const choose = (): Op => {
      let r = random() * 100;
      for (const [op, weight] of MIX) if ((r -= weight) < 0) return op;
      return 'list';
    };
    const sorts = ['newest', 'price_asc', 'price_desc'];
    const step = async (customer: Customer): Promise<void> => {
      let op: Op = customer.clearNext ? 'cartClear' : choose();
      if (op === 'checkout' && !customer.cartFilled) op = 'cartPut';
      if (op === 'cartPut' || op === 'cartClear') customer.cartWrites++;
      if (op === 'checkout') customer.checkouts++;
      switch (op) {
        case 'list': {
          const sort = sorts[Math.floor(random() * sorts.length)];
          await timed(
            recorder,
            op,
            `${base}/products?pageSize=20&sort=${sort}`,
            { headers: anonymous },
            (s) => s === 200,
          );
          return;
        }
        case 'detail':
          await timed(recorder, op, `${base}/products/${pick()}`, { headers: anonymous }, (s) => s === 200);
          return;
        case 'search': {
          const q = `${WORDS[Math.floor(random() * WORDS.length)]}${random() < 0.3 ? ` ${ADJECTIVES[Math.floor(random() * ADJECTIVES.length)]}` : ''}`;
          await timed(
            recorder,
            op,
            `${base}/products/search?q=${encodeURIComponent(q)}`,
            { headers: anonymous },
            (s) => s === 200,
          );
          return;
        }
        case 'cartGet':
          await timed(recorder, op, `${base}/cart`, { headers: customer.headers }, (s) => s === 200);
          return;
        case 'cartClear': {
          customer.clearNext = false;
          customer.done = true;
          await timed(
            recorder,
            op,
            `${base}/cart`,
            { method: 'DELETE', headers: customer.headers },
            (s) => s === 200 || s === 204,
          );
          return;
        }
        case 'cartPut': {
          const res = await timed(
            recorder,
            op,
            `${base}/cart/items/${pick(0.05)}`,
            {
              method: 'PUT',
              headers: customer.headers,
              body: JSON.stringify({ quantity: 1 + Math.floor(random() * 2) }),
            },
            (s) => s === 200,
            // The product sold out (a scarce one): the shop's answer, not an error.
            (s, body) => s === 409 && body.includes('insufficient-inventory'),
          );
          if (res) customer.cartFilled = true;
          return;
        }
        case 'checkout': {
          const res = await timed(
            recorder,
            op,
            `${base}/checkout`,
            {
              method: 'POST',
              headers: { ...customer.headers, 'idempotency-key': randomUUID() },
              body: JSON.stringify({
                paymentMethodId: random() < 0.1 ? 'pm_card_chargeDeclined' : 'pm_card_visa',
                shippingAddress: SAMPLE_ADDRESS,
              }),
            },
            (s) => s === 202,
            // Finalize of this customer's previous order subtracts what it bought from the cart: a line
            // of the same product put back meanwhile can go with it, leaving the cart empty (by design).
            (s, body) => s === 409 && body.includes('The cart is empty'),
          );
          if (res) {
            orderIds.push(((await res.json()) as { orderId: string }).orderId);
            // The next order starts from an empty cart (finalize removes bought lines only on success).
            customer.cartFilled = false;
            customer.clearNext = true;
          }
          return;
        }
      }
    };

    const progress = new Progress('load (seconds)', options.seconds);
    const started = Date.now();
    const until = started + options.seconds * 1000;
    const ticker = setInterval(
      () => progress.tick(Math.min(options.seconds, Math.floor((Date.now() - started) / 1000))),
      1000,
    );
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        let customer = await customerPool.take();
        while (Date.now() < until) {
          if (spent(customer)) customer = await customerPool.take();
          await step(customer);
        }
      }),
    );
    clearInterval(ticker);
    progress.tick(options.seconds);
    const elapsed = (Date.now() - started) / 1000;
    await floorRun(options.floorSeconds / 2, floor);

    // ---- settle, relay, check ---------------------------------------------------------------------
    process.stderr.write(`load: waiting for ${orderIds.length} orders to settle…\n`);
    const settleStarted = Date.now();
    const statuses = await waitUntil(
      'orders to settle',
      async () => {
        const { rows } = await pool!.query<{ status: string; reason: string | null; n: number }>(
          `select status, failure_reason as reason, count(*)::int as n from orders where tenant_id = $1 group by 1, 2`,
          [tenantId],
        );
        const open = rows.filter((r) => !['confirmed', 'failed', 'expired', 'cancelled'].includes(r.status));
        return open.length === 0 ? rows : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    const settleSeconds = (Date.now() - settleStarted) / 1000;
    await waitUntil(
      'the audit outbox to drain',
      async () => {
        const { rows } = await pool!.query<{ n: number }>(
          'select count(*)::int as n from audit_outbox where relayed_at is null',
        );
        if (rows[0]!.n === 0) return true;
        await fetch(`${host!.url}/admin/functions/auditRelay`, {
          method: 'POST',
          body: '{}',
          headers: { 'x-functions-key': host!.masterKey },
        });
        return undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const report: InvariantReport = await checkInvariants({
      appUrl: scratch.url,
      auditUrl: scratch.auditUrl,
      initialStock,
      tenantIds: [tenantId],
      paymentIntents: () => fake!.paymentIntents(),
      stripeUrl: fake.url,
      settled: true,
    });

    // ---- report -----------------------------------------------------------------------------------
    const floorLat = [...(floor.latencies.get('floor') ?? [])].sort((a, b) => a - b);
    const floorRate = floorLat.length / options.floorSeconds;
    const floorP50 = percentile(floorLat, 50);
    const floorP99 = percentile(floorLat, 99);
    const total = recorder.count();
    log('');
    log(
      `load: ${options.seconds} s closed loop, ${options.concurrency} virtual users, ${options.products} products (${options.hotProducts} scarce × ${options.hotStock}), loopback, host pid ${host.pid}`,
    );
    log(describeServices({ redisUrl, databaseUrl: scratch.url, stripe: "the project's fake (loopback)" }));
    log(`at end: ${loadLine()}`);
    log(
      `floor (${options.floorSeconds} s warm, half before and half after the workload, same host and concurrency; ${floorLat.length} samples): ${floorRate.toFixed(0)} req/s, p50 ${ms(floorP50)} ms, p99 ${ms(floorP99)} ms${floor.errorCount() ? `, ${floor.errorCount()} errors` : ''}`,
    );
    log('');
    log(
      `${'operation'.padEnd(26)} ${'requests'.padStart(8)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'p50/floor'.padStart(10)} ${'p99/floor'.padStart(10)} ${'errors'.padStart(7)}`,
    );
    for (const [op] of MIX) {
      const lat = [...(recorder.latencies.get(op) ?? [])].sort((a, b) => a - b);
      const p50 = percentile(lat, 50);
      const p99 = percentile(lat, 99);
      log(
        `${LABEL[op].padEnd(26)} ${String(lat.length).padStart(8)} ${(lat.length / elapsed).toFixed(1).padStart(8)} ${ms(p50).padStart(8)} ${ms(p99).padStart(8)} ${`${(p50 / floorP50).toFixed(1)}×`.padStart(10)} ${`${(p99 / floorP99).toFixed(1)}×`.padStart(10)} ${String(recorder.errors.get(op) ?? 0).padStart(7)}`,
      );
    }
    const all = [...recorder.latencies.values()].flat().sort((a, b) => a - b);
    log(
      `${'all'.padEnd(26)} ${String(total).padStart(8)} ${(total / elapsed).toFixed(1).padStart(8)} ${ms(percentile(all, 50)).padStart(8)} ${ms(percentile(all, 99)).padStart(8)} ${`${(percentile(all, 50) / floorP50).toFixed(1)}×`.padStart(10)} ${`${(percentile(all, 99) / floorP99).toFixed(1)}×`.padStart(10)} ${String(recorder.errorCount()).padStart(7)}`,
    );
    log(
      `throughput: ${(total / elapsed).toFixed(0)} req/s mixed = ${(total / elapsed / floorRate).toFixed(2)}× the floor's ${floorRate.toFixed(0)} req/s`,
    );
    log(
      `rate limited (429): ${recorder.rateLimited + floor.rateLimited}; customers: ${customerPool.created} (${options.concurrency} virtual users, a fresh customer after each order or near a per-user limit: cart writes ${CART_WRITE_RATE_LIMIT.points}/${CART_WRITE_RATE_LIMIT.durationSeconds} s, checkouts ${CHECKOUT_RATE_LIMIT.points}/${CHECKOUT_RATE_LIMIT.durationSeconds} s)`,
    );
    log(
      `errors: ${recorder.errorCount()}${recorder.samples.length ? ` — ${recorder.samples.join(' | ')}` : ''}`,
    );
    if (recorder.refused.size > 0)
      log(
        `refused by the shop (expected answers, not errors, not in the rows above): ${[...recorder.refused]
          .map(([op, n]) => {
            const lat = [...(recorder.latencies.get(`${op}:refused`) ?? [])].sort((a, b) => a - b);
            return `${LABEL[op as Op]} 409 × ${n} (p50 ${ms(percentile(lat, 50))} ms)`;
          })
          .join(', ')}`,
      );
    log(
      `samples per row: p99 is printed from ≥ 100 samples only; rows with fewer show their max: ${
        MIX.filter(([op]) => (recorder.latencies.get(op)?.length ?? 0) < 100)
          .map(([op]) => LABEL[op])
          .join(', ') || 'none'
      }`,
    );
    log(
      `orders: ${orderIds.length} placed, settled ${settleSeconds.toFixed(1)} s after the load stopped: ${statuses
        .map((r) => `${r.status}${r.reason ? `/${r.reason}` : ''} ${r.n}`)
        .join(', ')}`,
    );
    log(
      `invariants: ${report.ok ? 'all hold' : 'VIOLATED'} — ${report.checks.length} checks over ${report.checks.reduce((n, c) => n + c.checked, 0)} items; ${JSON.stringify(report.figures)}`,
    );
    log(report.summary());
    if (recorder.errorCount() > 0 || floor.errorCount() > 0 || !report.ok) process.exitCode = 1;
  } finally {
    await host?.stop().catch(() => undefined);
    await fake?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await scratch?.drop().catch(() => undefined);
    await removeRedisKeys(redisUrl, redisPrefix).catch(() => undefined);
  }
}

import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { EntityManager } from '@mikro-orm/postgresql';
import { generateOrders } from '../../infra/datagen/orders.js';
import { emailBlindIndex } from '../../shared/crypto/blind-index.js';
import type { ManagedOrderQueryValue } from '../../shared/schemas/manage-orders.js';
import type { DomainContext } from '../../shared/services/context.js';
import { Progress } from './progress.js';
import { createScratchDatabase, percentile } from './scratch-db.js';

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

const STATUSES = ['confirmed', 'failed', 'expired', 'cancelled'] as const;
const SILENT = { debug() {}, info() {}, warn() {}, error() {} } as unknown as DomainContext['log'];

interface Case {
  label: string;
  query: (random: () => number) => ManagedOrderQueryValue;
}

/**
 * `npm run bench orders [--orders 1000000] [--customers 20000] [--iterations 300]`: the order desk
 * (GET /manage/orders) at scale. Generates orders with the datagen, then per case (a status filter
 * with a random `to` bound; a customer email) times the service call — blind index, the repository's
 * statement through the ORM, the page's decryption — and the very same statement sent bare over pg,
 * interleaved in random order in the same run on the same database. Target: p95 ≤ 30 ms.
 */
export async function run(args: string[]): Promise<void> {
  const total = arg(args, 'orders', 1_000_000);
  const customers = arg(args, 'customers', 20_000);
  const iterations = arg(args, 'iterations', 300);
  const db = await createScratchDatabase('orders');
  const fernetKeys = randomBytes(32).toString('base64url') + '=';
  const indexSecret = randomBytes(32).toString('base64url');
  Object.assign(process.env, {
    APP_ENV: 'test',
    DATABASE_URL: db.url,
    AUDIT_DATABASE_URL: db.auditUrl,
    REDIS_URL: 'memory://',
    FERNET_KEYS: fernetKeys,
    BLIND_INDEX_KEY: indexSecret,
  });
  // Loaded after the settings exist: these read them on first use.
  const { runUnitOfWork } = await import('../../shared/db/unit-of-work.js');
  const { closeOrms } = await import('../../shared/db/orm.js');
  const { OrderDeskService } = await import('../../shared/services/orders/order-desk-service.js');
  const { OrderDeskRepository } = await import('../../shared/repositories/order-desk-repository.js');
  const { parseBlindIndexKey } = await import('../../shared/crypto/blind-index.js');
  const bare = new pg.Client({ connectionString: db.url });
  await bare.connect();
  try {
    const tenantId = randomUUID();
    await bare.query(`insert into tenants (id, slug, name) values ($1, 'bench-orders', 'Bench')`, [tenantId]);
    const progress = new Progress('generating orders', total);
    const started = Date.now();
    const start = new Date('2025-01-01T00:00:00Z');
    await generateOrders({
      databaseUrl: db.url,
      tenantId,
      fernetKeys,
      customers,
      orders: total,
      linesPerOrder: 3,
      start,
      spacingSeconds: 10,
      onProgress: (done) => progress.tick(done),
    });
    console.log(`generated ${total} orders in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // The datagen's customers have placeholder blind indexes; give 200 of them real ones.
    const key = parseBlindIndexKey(indexSecret);
    const { rows: sample } = await bare.query<{ id: string; n: number }>(
      `select id, (regexp_match(name, '^Customer (\\d+),'))[1]::int as n from users where tenant_id = $1 limit 200`,
      [tenantId],
    );
    for (const user of sample) {
      await bare.query('update users set email_bidx = $2 where id = $1', [
        user.id,
        emailBlindIndex(key, `customer${user.n}@example.test`),
      ]);
    }
    await bare.query('analyze users');
    const spanMs = total * 10_000;

    const cases: Case[] = [
      {
        label: 'status filter (random status, random `to`)',
        query: (random) => ({
          pageSize: 20,
          status: STATUSES[Math.floor(random() * STATUSES.length)]!,
          to: new Date(start.getTime() + Math.floor(random() * spanMs)).toISOString(),
        }),
      },
      {
        label: 'customer email filter',
        query: (random) => ({
          pageSize: 20,
          email: `customer${sample[Math.floor(random() * sample.length)]!.n}@example.test`,
        }),
      },
    ];

    const service = (query: ManagedOrderQueryValue): Promise<unknown> =>
      runUnitOfWork('read', (em: EntityManager) =>
        new OrderDeskService({ em, tenantId, log: SILENT, correlationId: 'bench' }).list(query),
      );
    /** The repository's own statement and parameters, captured, then sent bare with $n placeholders. */
    const bareStatement = async (
      query: ManagedOrderQueryValue,
    ): Promise<{ text: string; values: unknown[] }> => {
      let captured: { text: string; values: unknown[] } | undefined;
      const em = {
        execute: (sql: string, params: unknown[]) => {
          let n = 0;
          captured = { text: sql.replace(/\?/g, () => `$${++n}`), values: params };
          return Promise.resolve([]);
        },
      } as unknown as EntityManager;
      await new OrderDeskRepository({ em, tenantId, log: SILENT, correlationId: 'bench' }).page(
        {
          status: query.status,
          to: query.to,
          emailBidx: query.email === undefined ? undefined : emailBlindIndex(key, query.email),
        },
        query.pageSize + 1,
      );
      return captured!;
    };

    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const c of cases) {
      // Warm both paths (plans, pools, the cipher) before measuring.
      for (let i = 0; i < 20; i++) {
        const q = c.query(random);
        await service(q);
        const s = await bareStatement(q);
        await bare.query(s);
      }
      const viaApi: number[] = [];
      const viaSql: number[] = [];
      const timing = new Progress(c.label, iterations);
      for (let i = 0; i < iterations; i++) {
        const q = c.query(random);
        const s = await bareStatement(q);
        const order = random() < 0.5;
        for (const first of order ? [true, false] : [false, true]) {
          const t0 = performance.now();
          if (first) await service(q);
          else await bare.query(s);
          (first ? viaApi : viaSql).push(performance.now() - t0);
        }
        timing.tick(i + 1);
      }
      viaApi.sort((a, b) => a - b);
      viaSql.sort((a, b) => a - b);
      const p = (xs: number[], q: number): string => percentile(xs, q).toFixed(2);
      console.log(
        `${c.label} at ${total} orders: service p50 ${p(viaApi, 50)} ms, p95 ${p(viaApi, 95)} ms | ` +
          `bare SQL p50 ${p(viaSql, 50)} ms, p95 ${p(viaSql, 95)} ms | ratio p95 ` +
          `${(percentile(viaApi, 95) / percentile(viaSql, 95)).toFixed(2)}× | target p95 ≤ 30 ms: ` +
          `${percentile(viaApi, 95) <= 30 ? 'met' : 'MISSED'}`,
      );
    }
  } finally {
    await bare.end();
    await closeOrms();
    await db.drop();
  }
}

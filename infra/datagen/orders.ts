import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { FieldCipher } from '../../shared/crypto/field-cipher.js';

export interface OrderDataOptions {
  databaseUrl: string;
  tenantId: string;
  fernetKeys: string;
  customers: number;
  orders: number;
  linesPerOrder: number;
  /** Orders are spread one per `spacingSeconds` from this instant, so ranges select exact counts. */
  start: Date;
  spacingSeconds: number;
  onProgress?: (done: number, total: number) => void;
}

const STATUSES = ['confirmed', 'confirmed', 'confirmed', 'failed', 'expired', 'cancelled'];
const STREETS = ['Main St', 'High St', 'Elm Rd', 'Rue de la Paix', 'Königstraße', 'Calle Mayor'];

/** `COPY … FROM STDIN` text format: tab-separated, `\N` for null, backslash escapes. */
function copyText(values: (string | number | null)[]): string {
  return (
    values
      .map((v) =>
        v === null
          ? '\\N'
          : String(v)
              .replace(/\\/g, '\\\\')
              .replace(/\t/g, '\\t')
              .replace(/\n/g, '\\n')
              .replace(/\r/g, '\\r'),
      )
      .join('\t') + '\n'
  );
}

async function copyRows(client: pg.PoolClient, sql: string, rows: Iterable<string>): Promise<void> {
  await pipeline(Readable.from(rows, { objectMode: false }), client.query(copyFrom(sql)));
}

/**
 * Generates customers (PII encrypted as the app stores it), products, orders, lines and payments with
 * COPY — the fast path for benchmark volumes (1M orders / 3M lines in about a minute here).
 */
export async function generateOrders(options: OrderDataOptions): Promise<{ firstAt: Date; lastAt: Date }> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  const client = await pool.connect();
  try {
    const cipher = new FieldCipher(options.fernetKeys);
    const customerIds = Array.from({ length: options.customers }, () => randomUUID());
    await copyRows(
      client,
      'copy users (id, tenant_id, email_enc, email_bidx, address_enc, name, password_hash) from stdin',
      customerIds.map((id, i) =>
        copyText([
          id,
          options.tenantId,
          cipher.encrypt(`customer${i}@example.test`),
          `bench-${id}`,
          cipher.encrypt(`${i} ${STREETS[i % STREETS.length]}, "Suite ${i % 7}"`),
          `Customer ${i}, Jr.`,
          'bench-no-login',
        ]),
      ),
    );
    const productIds = Array.from({ length: 100 }, () => randomUUID());
    await copyRows(
      client,
      'copy products (id, tenant_id, sku, name, price_cents, currency) from stdin',
      productIds.map((id, i) =>
        copyText([id, options.tenantId, `BENCH-${i}`, `Bench product ${i}`, 500 + i * 10, 'USD']),
      ),
    );

    const total = options.orders;
    const startMs = options.start.getTime();
    const batch = 50_000;
    for (let offset = 0; offset < total; offset += batch) {
      const count = Math.min(batch, total - offset);
      const orders: string[] = [];
      const lines: string[] = [];
      const payments: string[] = [];
      for (let k = 0; k < count; k++) {
        const n = offset + k;
        const orderId = randomUUID();
        const createdAt = new Date(startMs + n * options.spacingSeconds * 1000).toISOString();
        let totalCents = 0;
        for (let l = 0; l < options.linesPerOrder; l++) {
          const productIndex = (n * 7 + l * 13) % productIds.length;
          const unit = 500 + productIndex * 10;
          const quantity = 1 + ((n + l) % 3);
          totalCents += unit * quantity;
          lines.push(
            copyText([
              randomUUID(),
              options.tenantId,
              orderId,
              productIds[productIndex]!,
              `Bench product ${productIndex}`,
              quantity,
              unit,
              unit * quantity,
              createdAt,
            ]),
          );
        }
        const status = STATUSES[n % STATUSES.length]!;
        orders.push(
          copyText([
            orderId,
            options.tenantId,
            customerIds[n % customerIds.length]!,
            status,
            totalCents,
            'USD',
            `bench-${n}`,
            'h',
            'pm_card_visa',
            createdAt,
            createdAt,
          ]),
        );
        payments.push(
          copyText([
            randomUUID(),
            options.tenantId,
            orderId,
            `pi_bench_${n}`,
            status === 'confirmed' ? 'succeeded' : 'canceled',
            totalCents,
            'USD',
            createdAt,
          ]),
        );
      }
      await copyRows(
        client,
        'copy orders (id, tenant_id, user_id, status, total_cents, currency, idempotency_key, request_hash, payment_method_id, created_at, updated_at) from stdin',
        orders,
      );
      await copyRows(
        client,
        'copy order_lines (id, tenant_id, order_id, product_id, name, quantity, unit_price_cents, line_total_cents, created_at) from stdin',
        lines,
      );
      await copyRows(
        client,
        'copy payments (id, tenant_id, order_id, payment_intent_id, status, amount_cents, currency, created_at) from stdin',
        payments,
      );
      options.onProgress?.(offset + count, total);
    }
    await client.query('analyze orders; analyze order_lines; analyze payments; analyze users');
    return {
      firstAt: options.start,
      lastAt: new Date(startMs + (total - 1) * options.spacingSeconds * 1000),
    };
  } finally {
    client.release();
    await pool.end();
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import { parse } from 'csv-parse/sync';
import { exportStatus, requestExport } from '../../../functions/manage-exports.js';
import { orderExport, EXPORT_MAX_DELIVERIES } from '../../../functions/order-export.js';
import { resetSettingsForTests } from '../../../shared/config/index.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { closeStreamPool, getStreamPool } from '../../../shared/db/stream-pool.js';
import { createServer } from 'node:http';
import { exportBlob, readOnlyLink, resetBlobClientForTests } from '../../../shared/storage/blob.js';
import { getFieldCipher } from '../../../shared/services/pii-cipher.js';
import { exportBlobName, runExport } from '../../../shared/services/export/export-runner.js';
import { silentLogger } from '../../../shared/logging/logger.js';
import { generateOrders } from '../../../infra/datagen/orders.js';
import { EXPORT_COLUMNS } from '../../../shared/services/export/export-query.js';
import { invoke } from '../../support/http.js';
import { installRecordingBus, type RecordingBus } from '../../support/recording-bus.js';
import { startAzurite, type Azurite } from '../../support/azurite.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../../fixtures/sample_data.js';
import { authHeaders, createUser, type TestUser } from '../../fixtures/users.js';
import { canonicalAddressJson } from '../../../shared/schemas/address.js';
import { SAMPLE_ADDRESS } from '../../fixtures/address.js';

const HOSTILE_CUSTOMERS = [
  { name: 'Ann, "the" Buyer', email: 'ann+1@example.test', address: '1 Main St\nApt 2, "Back"' },
  { name: '=HYPERLINK("http://evil.test","x")', email: '@evil@example.test', address: '+1-555-0100' },
  { name: 'Zoë Ünïcødé 山田 🚀', email: 'zoe@example.test', address: '\tTabbed\r\nCRLF' },
  { name: '-2+3', email: 'minus@example.test', address: null },
];

function context(deliveryCount: number): InvocationContext {
  return new InvocationContext({
    invocationId: randomUUID(),
    functionName: 'orderExport',
    triggerMetadata: { deliveryCount },
  });
}

describe('order export', () => {
  let azurite: Azurite;
  let bus: RecordingBus;
  let tenantId: string;
  let admin: TestUser;
  const orderIds: string[] = [];
  const from = '2026-03-01T00:00:00Z';
  const to = '2026-04-01T00:00:00Z';

  beforeAll(async () => {
    azurite = await startAzurite();
    process.env.AzureWebJobsStorage = azurite.connectionString;
    resetSettingsForTests();
    resetBlobClientForTests();
    bus = installRecordingBus();
    tenantId = (await createTenant('Export shop')).id;
    admin = await createUser(tenantId, { roles: ['admin'] });
    const product = await createProduct(tenantId, { priceCents: 1250 });
    const cipher = await getFieldCipher();
    const pool = testPool();
    let day = 1;
    for (const c of HOSTILE_CUSTOMERS) {
      const userId = randomUUID();
      await pool.query(
        `insert into users (id, tenant_id, email_enc, email_bidx, address_enc, name, password_hash) values ($1,$2,$3,$4,$5,$6,'x')`,
        [userId, tenantId, cipher.encrypt(c.email), `bidx-${userId}`, cipher.encrypt(c.address), c.name],
      );
      for (let k = 0; k < 2; k++) {
        const orderId = randomUUID();
        const createdAt = new Date(Date.UTC(2026, 2, day++, 12));
        await pool.query(
          `insert into orders (id, tenant_id, user_id, status, total_cents, currency, idempotency_key, request_hash, payment_method_id, created_at)
           values ($1,$2,$3,$4,$5,'USD',$6,'h','pm_card_visa',$7)`,
          [
            orderId,
            tenantId,
            userId,
            k === 0 ? 'confirmed' : 'failed',
            2500 * (k + 1),
            randomUUID(),
            createdAt,
          ],
        );
        await pool.query(
          `insert into order_lines (id, tenant_id, order_id, product_id, name, quantity, unit_price_cents, line_total_cents)
           values ($1,$2,$3,$4,'Mug',$5,1250,$6)`,
          [randomUUID(), tenantId, orderId, product.id, 2 * (k + 1), 2500 * (k + 1)],
        );
        if (k === 0) {
          await pool.query(
            `insert into payments (id, tenant_id, order_id, payment_intent_id, status, amount_cents, currency) values ($1,$2,$3,$4,'succeeded',2500,'USD')`,
            [randomUUID(), tenantId, orderId, `pi_${orderId.slice(0, 8)}`],
          );
        }
        orderIds.push(orderId);
      }
    }
    // An order outside the range must not appear.
    await pool.query(
      `insert into orders (id, tenant_id, user_id, status, total_cents, currency, idempotency_key, request_hash, payment_method_id, created_at)
       values ($1,$2,$3,'confirmed',1,'USD',$4,'h','pm',$5)`,
      [randomUUID(), tenantId, admin.id, randomUUID(), new Date('2026-05-02T00:00:00Z')],
    );
  });

  afterAll(async () => {
    await azurite.stop();
    await closeStreamPool();
    await closeOrms();
    await closeTestPool();
  });

  async function requestAndRun(body: Record<string, unknown>): Promise<string> {
    const res = await invoke(requestExport, { method: 'POST', headers: await authHeaders(admin), body });
    expect(res.status).toBe(202);
    const exportId = res.json.exportId as string;
    expect(res.headers.get('location')).toBe(`/api/manage/orders/exports/${exportId}`);
    const message = bus.on('order-exports').find((m) => m.messageId === exportId);
    expect(message?.body).toEqual({ exportId, tenantId });
    await orderExport(message!.body, context(1));
    return exportId;
  }

  it('streams the range to a private blob; the link downloads a CSV that matches the database row by row', async () => {
    // One order carries a shipping address (issue #18): its last column, decrypted on one line.
    const shipping = { ...SAMPLE_ADDRESS, line2: 'Flat 3', region: 'Greater London' };
    await testPool().query('update orders set shipping_address_enc = $2 where id = $1', [
      orderIds[0],
      (await getFieldCipher()).encrypt(canonicalAddressJson(shipping)),
    ]);
    const exportId = await requestAndRun({ from, to });
    const status = await invoke(exportStatus, {
      params: { id: exportId },
      headers: await authHeaders(admin),
    });
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ id: exportId, status: 'completed', rowsExported: 8 });
    const expiresIn = Date.parse(status.json.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(14 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60_000);

    const download = await fetch(status.json.downloadUrl);
    expect(download.status).toBe(200);
    const records: string[][] = parse(await download.text(), { relax_column_count: false });
    expect(records[0]).toEqual([...EXPORT_COLUMNS]);
    const rows = records.slice(1);
    expect(rows.map((r) => r[0])).toEqual(orderIds);

    const cipher = await getFieldCipher();
    const { rows: db } = await testPool().query(
      `select o.id, o.created_at, o.status, o.user_id, u.email_enc, u.name, u.address_enc, o.total_cents, p.payment_intent_id,
              (select sum(quantity) from order_lines l where l.order_id = o.id) as items,
              (select sum(line_total_cents) from order_lines l where l.order_id = o.id) as subtotal
       from orders o join users u on u.id = o.user_id left join payments p on p.order_id = o.id
       where o.tenant_id = $1 and o.created_at >= $2 and o.created_at < $3 order by o.created_at, o.id`,
      [tenantId, from, to],
    );
    const unformula = (s: string) => (/^'[=+\-@\t\r]/.test(s) ? s.slice(1) : s);
    db.forEach((d, i) => {
      const row = rows[i]!;
      expect(row[1]).toBe(new Date(d.created_at).toISOString());
      expect(row[2]).toBe(d.status);
      expect(row[3]).toBe(d.user_id);
      expect(unformula(row[4]!)).toBe(cipher.decrypt(d.email_enc));
      expect(unformula(row[5]!)).toBe(d.name);
      expect(unformula(row[6]!)).toBe(cipher.decrypt(d.address_enc) ?? '');
      expect(Number(row[7])).toBe(Number(d.items));
      expect(Number(row[8])).toBe(Number(d.subtotal));
      expect(Number(row[9])).toBe(Number(d.total_cents));
      expect(row[10]).toBe('USD');
      expect(row[11]).toBe(d.payment_intent_id ?? '');
      expect(row[12]).toBe(
        i === 0 ? 'Ada Lovelace, 12 St James’s Square, Flat 3, SW1Y 4JH London, Greater London, GB' : '',
      );
    });
    // Formula prefixes are neutralised: no cell starts with a formula character.
    for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('filters by status', async () => {
    const exportId = await requestAndRun({ from, to, status: 'failed' });
    const status = await invoke(exportStatus, {
      params: { id: exportId },
      headers: await authHeaders(admin),
    });
    expect(status.json.rowsExported).toBe(4);
  });

  it('refuses an expired link at the storage endpoint', async () => {
    const exportId = await requestAndRun({ from, to });
    const blob = exportBlob('exports', exportBlobName(tenantId, exportId));
    const past = new Date(Date.now() - 3600_000);
    const expired = await readOnlyLink(blob, new Date(past.getTime() + 60_000), past);
    const res = await fetch(expired);
    expect(res.status).toBe(403);
    await res.arrayBuffer();
  });

  it('a redelivered message rewrites the same blob and the job stays one job', async () => {
    const exportId = await requestAndRun({ from, to });
    // Completed: a redelivery is acknowledged without work.
    await orderExport({ exportId, tenantId }, context(2));
    // Crashed mid-run (still `running`): the redelivery writes the same blob name again.
    await testPool().query(`update export_jobs set status = 'running' where id = $1`, [exportId]);
    await orderExport({ exportId, tenantId }, context(3));
    const { rows } = await testPool().query(
      'select status, rows_exported, blob_name, attempts from export_jobs where id = $1',
      [exportId],
    );
    expect(rows[0]).toMatchObject({
      status: 'completed',
      blob_name: exportBlobName(tenantId, exportId),
      attempts: 2,
    });
    expect(Number(rows[0].rows_exported)).toBe(8);
  });

  it('a poison export is queued again with its reason until the last delivery, then failed', async () => {
    const res = await invoke(requestExport, {
      method: 'POST',
      headers: await authHeaders(admin),
      body: { from, to },
    });
    const exportId = res.json.exportId as string;
    process.env.AzureWebJobsStorage = azurite.connectionString.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:9');
    resetSettingsForTests();
    resetBlobClientForTests();
    try {
      for (let delivery = 1; delivery <= EXPORT_MAX_DELIVERIES; delivery++) {
        await expect(orderExport({ exportId, tenantId }, context(delivery))).rejects.toThrow();
        const { rows } = await testPool().query('select status, error from export_jobs where id = $1', [
          exportId,
        ]);
        expect(rows[0].status).toBe(delivery < EXPORT_MAX_DELIVERIES ? 'queued' : 'failed');
        expect(rows[0].error).toBeTruthy();
      }
    } finally {
      process.env.AzureWebJobsStorage = azurite.connectionString;
      resetSettingsForTests();
      resetBlobClientForTests();
    }
    const status = await invoke(exportStatus, {
      params: { id: exportId },
      headers: await authHeaders(admin),
    });
    expect(status.json).toMatchObject({ status: 'failed' });
    expect(status.json.downloadUrl).toBeUndefined();
  });

  it('an upload failing mid-stream releases its database connection and re-queues the job', async () => {
    // A storage endpoint that creates containers but fails every block upload.
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const creating = req.method === 'PUT' && (req.url ?? '').includes('restype=container');
        res.writeHead(creating ? 201 : 500, { 'x-ms-error-code': creating ? '' : 'InternalError' });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const res = await invoke(requestExport, {
      method: 'POST',
      headers: await authHeaders(admin),
      body: { from, to },
    });
    const exportId = res.json.exportId as string;
    process.env.AzureWebJobsStorage = azurite.connectionString.replace(
      /127\.0\.0\.1:\d+/,
      `127.0.0.1:${port}`,
    );
    resetSettingsForTests();
    resetBlobClientForTests();
    try {
      for (let delivery = 1; delivery <= 5; delivery++) {
        await expect(orderExport({ exportId, tenantId }, context(1))).rejects.toThrow();
      }
      // More failures than the stream pool has connections: every one was released or discarded.
      const started = Date.now();
      const { rows } = await getStreamPool().query('select status, error from export_jobs where id = $1', [
        exportId,
      ]);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(rows[0]).toMatchObject({ status: 'queued' });
      // The storage error has no message of its own; the job still says what failed.
      expect(rows[0].error).toMatch(/HTTP 500/);
    } finally {
      server.close();
      process.env.AzureWebJobsStorage = azurite.connectionString;
      resetSettingsForTests();
      resetBlobClientForTests();
    }
  });

  it('writes the same CSV when it spans many small blocks (characters split across blocks)', async () => {
    const whole = await requestAndRun({ from, to });
    const res = await invoke(requestExport, {
      method: 'POST',
      headers: await authHeaders(admin),
      body: { from, to },
    });
    const exportId = res.json.exportId as string;
    const blockSize = 37;
    await expect(
      runExport({ exportId, tenantId }, { deliveryCount: 1, maxDeliveries: 5 }, silentLogger, {
        blockSize,
        buffers: 2,
      }),
    ).resolves.toBe('completed');
    const expected = await exportBlob('exports', exportBlobName(tenantId, whole)).downloadToBuffer();
    const blob = exportBlob('exports', exportBlobName(tenantId, exportId));
    const actual = await blob.downloadToBuffer();
    expect(actual.equals(expected)).toBe(true);
    const { committedBlocks } = await blob.getBlockList('committed');
    expect(committedBlocks?.length).toBe(Math.ceil(actual.length / blockSize));
    const properties = await blob.getProperties();
    expect(properties.contentType).toBe('text/csv; charset=utf-8');
    expect(properties.metadata).toEqual({ tenantid: tenantId, exportid: exportId });
    const { rows } = await testPool().query('select bytes from export_jobs where id = $1', [exportId]);
    expect(Number(rows[0].bytes)).toBe(actual.length);
  });

  it('an upload failing while the cursor still has rows stops the query and discards its connection', async () => {
    // More rows than one cursor batch, so the failure lands with the query still open.
    const bigTenant = (await createTenant('Big export shop')).id;
    const start = new Date('2026-06-01T00:00:00Z');
    await generateOrders({
      databaseUrl: process.env.DATABASE_URL!,
      tenantId: bigTenant,
      fernetKeys: process.env.FERNET_KEYS!,
      customers: 20,
      orders: 3000,
      linesPerOrder: 1,
      start,
      spacingSeconds: 1,
    });
    const bigAdmin = await createUser(bigTenant, { roles: ['admin'] });
    // Blocks are accepted until the third, then every stage fails.
    let stages = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const url = req.url ?? '';
        const creating = req.method === 'PUT' && url.includes('restype=container');
        const staging = req.method === 'PUT' && url.includes('comp=block');
        const ok = creating || (staging && ++stages <= 2);
        res.writeHead(ok ? 201 : 500, { 'x-ms-error-code': ok ? '' : 'InternalError' });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    process.env.AzureWebJobsStorage = azurite.connectionString.replace(
      /127\.0\.0\.1:\d+/,
      `127.0.0.1:${port}`,
    );
    resetSettingsForTests();
    resetBlobClientForTests();
    try {
      for (let delivery = 1; delivery <= 5; delivery++) {
        stages = 0;
        const res = await invoke(requestExport, {
          method: 'POST',
          headers: await authHeaders(bigAdmin),
          body: { from: start.toISOString(), to: '2026-07-01T00:00:00Z' },
        });
        const exportId = res.json.exportId as string;
        await expect(
          runExport({ exportId, tenantId: bigTenant }, { deliveryCount: 1, maxDeliveries: 5 }, silentLogger, {
            blockSize: 4096,
            buffers: 2,
          }),
        ).rejects.toThrow();
        const { rows } = await testPool().query('select status, error from export_jobs where id = $1', [
          exportId,
        ]);
        expect(rows[0]).toMatchObject({ status: 'queued', error: 'RestError (HTTP 500)' });
        // It stopped at the failure instead of encoding the ~160 blocks the whole range takes.
        expect(stages).toBeLessThan(20);
      }
      // Five failures on a pool of four: each connection was given back or discarded, and no backend
      // is still running the export's statement.
      const started = Date.now();
      await getStreamPool().query('select 1');
      expect(Date.now() - started).toBeLessThan(2000);
      await expect
        .poll(
          async () =>
            (
              await testPool().query(
                `select count(*)::int as n from pg_stat_activity
                 where datname = current_database() and state = 'active' and query like '%range_orders%'
                   and pid <> pg_backend_pid()`,
              )
            ).rows[0].n,
          { timeout: 5000 },
        )
        .toBe(0);
    } finally {
      server.close();
      process.env.AzureWebJobsStorage = azurite.connectionString;
      resetSettingsForTests();
      resetBlobClientForTests();
    }
  });

  it('hides an export from another tenant’s admin', async () => {
    const exportId = await requestAndRun({ from, to });
    const otherTenant = await createTenant('Other shop');
    const otherAdmin = await createUser(otherTenant.id, { roles: ['admin'] });
    const res = await invoke(exportStatus, {
      params: { id: exportId },
      headers: await authHeaders(otherAdmin),
    });
    expect(res.status).toBe(404);
  });

  it('validates the range and needs an admin', async () => {
    const headers = await authHeaders(admin);
    const bad = await invoke(requestExport, { method: 'POST', headers, body: { from: to, to: from } });
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0].field).toBe('body.to');
    expect(
      (await invoke(requestExport, { method: 'POST', headers, body: { from: 'yesterday', to } })).status,
    ).toBe(400);
    const customer = await createUser(tenantId);
    expect(
      (
        await invoke(requestExport, {
          method: 'POST',
          headers: await authHeaders(customer),
          body: { from, to },
        })
      ).status,
    ).toBe(401);
    const before = bus.sent.length;
    expect((await invoke(requestExport, { method: 'POST', body: { from, to } })).status).toBe(401);
    expect(bus.sent.length).toBe(before);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startFakeStripe, type FakeStripe } from '../../infra/fake-stripe/server.js';
import { useOwnDatabase, type OwnDatabase } from './support/own-database.js';
import { startE2eHost, type E2eHost } from './support/host.js';
import { apiClient } from './support/client.js';
import { closeTestPool, createProduct, createTenant, testPool } from '../fixtures/sample_data.js';
import { authHeaders, createUser } from '../fixtures/users.js';
import { SAMPLE_ADDRESS } from '../fixtures/address.js';
import { BICEP_DIR } from '../infra/bicep.js';

const readBicep = (file: string): string => readFileSync(path.join(BICEP_DIR, file), 'utf8');

/**
 * Application Insights as the app starts it in a Function App: the local host runs the compiled
 * functions with APPLICATIONINSIGHTS_CONNECTION_STRING whose IngestionEndpoint and LiveEndpoint are a
 * loopback receiver of this test. The checkout telemetry the Bicep alerts query must arrive there, and
 * the host process must open no connection and resolve no name other than loopback ones: every
 * `net.Socket#connect` and `dns.lookup` in the host is recorded by a preload (NODE_OPTIONS --require).
 *
 * Envelope shapes: Breeze v2.1 `track` (the exporter's `data.baseType` EventData/MetricData/RequestData
 * land in the customEvents/customMetrics/requests tables the alerts query).
 */

interface Envelope {
  name: string;
  iKey?: string;
  data: { baseType: string; baseData: Record<string, unknown> };
}

const IKEY = randomUUID();
let receiver: Server;
const envelopes: Envelope[] = [];
const receivedPaths: string[] = [];
let db: OwnDatabase;
let host: E2eHost;
let fake: FakeStripe;
let tenantId: string;
let workDir: string;
let netLog: string;

// Runs inside the host process before anything else: records where it connects and what it resolves.
const RECORDER = `
const fs = require('node:fs');
const net = require('node:net');
const dns = require('node:dns');
const file = process.env.NET_RECORD_FILE;
const note = (kind, target) => fs.appendFileSync(file, JSON.stringify({ kind, target, pid: process.pid }) + '\\n');
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (first && typeof first === 'object') note('connect', first.path ? 'unix:' + first.path : String(first.host ?? 'localhost') + ':' + first.port);
  else if (typeof first === 'string' && !/^\\d+$/.test(first)) note('connect', 'unix:' + first);
  else note('connect', String(args[1] ?? 'localhost') + ':' + first);
  return connect.apply(this, args);
};
const lookup = dns.lookup;
dns.lookup = function (hostname, ...rest) { note('lookup', String(hostname)); return lookup.call(this, hostname, ...rest); };
const plookup = dns.promises.lookup;
dns.promises.lookup = function (hostname, ...rest) { note('lookup', String(hostname)); return plookup.call(this, hostname, ...rest); };
for (const name of ['resolve', 'resolve4', 'resolve6', 'resolveAny']) {
  const original = dns[name];
  dns[name] = function (hostname, ...rest) { note('lookup', String(hostname)); return original.call(this, hostname, ...rest); };
}
`;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The exporter rewrites an http:// ingestion endpoint to https:// (connectionStringParser.js), as the
 * real service only speaks TLS: the receiver is HTTPS with a throwaway self-signed certificate that the
 * host trusts through NODE_EXTRA_CA_CERTS.
 */
function makeCertificate(dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

async function startReceiver(tls: { key: string; cert: string }): Promise<number> {
  receiver = createServer(tls, (req, res) => {
    receivedPaths.push(`${req.method} ${req.url}`);
    void readBody(req).then((raw) => {
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const text = body.toString('utf8').trim();
      let items: Envelope[] = [];
      if (text.startsWith('[')) items = JSON.parse(text) as Envelope[];
      else if (text) items = text.split('\n').map((line) => JSON.parse(line) as Envelope);
      envelopes.push(...items);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  return (receiver.address() as { port: number }).port;
}

beforeAll(async () => {
  db = await useOwnDatabase('telemetry');
  workDir = mkdtempSync(path.join(tmpdir(), 'ecom-telemetry-'));
  const preload = path.join(workDir, 'net-recorder.cjs');
  writeFileSync(preload, RECORDER);
  netLog = path.join(workDir, 'net.log');
  writeFileSync(netLog, '');
  const tls = makeCertificate(workDir);
  const port = await startReceiver(tls);
  fake = await startFakeStripe({ webhookSecret: process.env.STRIPE_WEBHOOK_SECRET! });
  host = await startE2eHost({
    env: {
      STRIPE_API_BASE: fake.url,
      APPLICATIONINSIGHTS_CONNECTION_STRING:
        `InstrumentationKey=${IKEY};IngestionEndpoint=https://127.0.0.1:${port}/;` +
        `LiveEndpoint=https://127.0.0.1:${port}/`,
      NODE_EXTRA_CA_CERTS: tls.certFile,
      // Custom metrics are histograms exported on this interval (60 s by default).
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      // Spans (so requests) are rate-limited to 5 traces/s by default and this test polls faster. In a
      // Function App the host writes `requests` itself (unsampled: host.json excludedTypes), the worker
      // sees no HTTP; under the local host they come from the SDK's HTTP server instrumentation.
      OTEL_TRACES_SAMPLER: 'always_on',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${preload}`.trim(),
      NET_RECORD_FILE: netLog,
    },
  });
  fake.setWebhookUrl(`${host.baseUrl}/webhooks/stripe`);
  tenantId = (await createTenant('E2E telemetry shop')).id;
}, 120_000);

afterAll(async () => {
  await host?.stop();
  await fake?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await closeTestPool();
  await db?.drop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}, 60_000);

async function checkout(
  productId: string,
  paymentMethodId: string,
): Promise<{ orderId: string; status: string }> {
  const user = await createUser(tenantId);
  const cartId = randomUUID();
  await testPool().query('insert into carts (id, tenant_id, user_id, version) values ($1, $2, $3, 1)', [
    cartId,
    tenantId,
    user.id,
  ]);
  await testPool().query(
    'insert into cart_lines (id, tenant_id, cart_id, product_id, quantity) values ($1, $2, $3, $4, 1)',
    [randomUUID(), tenantId, cartId, productId],
  );
  const client = apiClient(host.baseUrl, {
    ...(await authHeaders(user)),
    'content-type': 'application/json',
  });
  const { data, response } = await client.POST('/checkout', {
    params: { header: { 'idempotency-key': randomUUID() } },
    body: { paymentMethodId, shippingAddress: SAMPLE_ADDRESS },
  });
  expect(response.status).toBe(202);
  const orderId = data!.orderId;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const order = await client.GET('/orders/{id}', { params: { path: { id: orderId } } });
    const status = order.data?.status ?? '';
    if (['confirmed', 'failed', 'expired', 'cancelled'].includes(status)) return { orderId, status };
    if (Date.now() > deadline)
      throw new Error(`order ${orderId} did not settle\n${host.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForEnvelope(what: string, match: (e: Envelope) => boolean): Promise<Envelope> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = envelopes.find(match);
    if (found) return found;
    if (Date.now() > deadline) {
      const seen = envelopes.map((e) => `${e.data.baseType}:${String(e.data.baseData.name ?? '')}`);
      throw new Error(`no ${what} arrived; received ${JSON.stringify(seen)}\n${host.output().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function isLoopback(target: string): boolean {
  if (target.startsWith('unix:')) return true;
  const hostPart = target.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return ['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1'].includes(hostPart) || /^127\./.test(hostPart);
}

describe('Application Insights from the running app', () => {
  let confirmed: { orderId: string; status: string };
  let declined: { orderId: string; status: string };

  beforeAll(async () => {
    const product = await createProduct(tenantId, { name: 'Telemetry kettle', priceCents: 4500, stock: 100 });
    confirmed = await checkout(product.id, 'pm_card_visa');
    declined = await checkout(product.id, 'pm_card_chargeDeclined');
  }, 90_000);

  it('the checkouts settled as their cards say', () => {
    expect(confirmed.status).toBe('confirmed');
    expect(declined.status).toBe('failed');
  });

  it('sends PaymentFailed (customEvents) for the declined order, with the instrumentation key', async () => {
    const event = await waitForEnvelope(
      'PaymentFailed event',
      (e) =>
        e.data.baseType === 'EventData' &&
        e.data.baseData.name === 'PaymentFailed' &&
        (e.data.baseData.properties as Record<string, string> | undefined)?.orderId === declined.orderId,
    );
    expect(event.iKey).toBe(IKEY);
    // The finance alert's query matches this name exactly.
    expect(readBicep('modules/alerts.bicep')).toContain('customEvents\n| where name == "PaymentFailed"');
  });

  it('sends CheckoutDurationMs (customMetrics), POST to confirmed, and the latency alert queries it', async () => {
    const metric = await waitForEnvelope(
      'CheckoutDurationMs metric',
      (e) =>
        e.data.baseType === 'MetricData' &&
        (e.data.baseData.metrics as { name: string }[]).some((m) => m.name === 'CheckoutDurationMs'),
    );
    const point = (metric.data.baseData.metrics as { name: string; value: number; count?: number }[]).find(
      (m) => m.name === 'CheckoutDurationMs',
    )!;
    // A histogram point: the sum of this tenant's confirmed checkouts' durations (one here).
    expect(point.value).toBeGreaterThan(0);
    expect(point.count ?? 1).toBe(1);
    expect((metric.data.baseData.properties as Record<string, string>).tenantId).toBe(tenantId);
    const alerts = readBicep('modules/alerts.bicep');
    expect(alerts).toMatch(/customMetrics\n\| where name == "CheckoutDurationMs"/);
  });

  it('sends request telemetry (requests) for the HTTP calls, with the fields the error-rate alert reads', async () => {
    const request = await waitForEnvelope(
      'checkout request',
      (e) =>
        e.data.baseType === 'RequestData' &&
        String(e.data.baseData.url ?? '').includes('/api/checkout') &&
        String(e.data.baseData.responseCode) === '202',
    );
    expect(request.data.baseData.duration).toBeDefined();
    const alerts = readBicep('modules/alerts.bicep');
    expect(alerts).toMatch(/requests\n\| where isnotempty\(url\)/);
  });

  it('the host reached nothing but loopback: no IMDS, statsbeat, live metrics or cloud endpoint', () => {
    const records = readFileSync(netLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { kind: string; target: string });
    // The recorder ran (the host connected to PostgreSQL and the receiver at least), and telemetry flowed.
    expect(records.some((r) => r.kind === 'connect')).toBe(true);
    expect(envelopes.length).toBeGreaterThan(0);
    const outside = records.filter((r) => !isLoopback(r.target));
    expect(outside, JSON.stringify(outside)).toEqual([]);
    // Only the ingestion path of the receiver was called (live metrics would POST /QuickPulseService.svc/…).
    expect(
      receivedPaths.every((p) => p.startsWith('POST /v2.1/track')),
      receivedPaths.join(', '),
    ).toBe(true);
  });
});

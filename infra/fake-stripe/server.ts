// A local stand-in for the slice of Stripe's API this project uses (PaymentIntents, refunds, events, signed
// webhooks), faithful enough that the real `stripe` SDK — configured with host/port/protocol — cannot tell
// the difference, plus test controls (faults, webhook chaos, 3-D Secure completion) Stripe does not offer.
//
//   const fake = await startFakeStripe({ webhookSecret: 'whsec_test', webhookUrl });
//   const stripe = new Stripe('sk_test_x', { host: '127.0.0.1', port: fake.port, protocol: 'http' });
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleApi, type ApiDeps } from './api.js';
import { handleControl } from './control.js';
import { EventLog } from './events.js';
import { FaultInjector } from './faults.js';
import { sendJson } from './http.js';
import { IdempotencyStore } from './idempotency.js';
import { PaymentStore, type RequestContext } from './payment-intents.js';
import type { FakeStripe, FakeStripeOptions, RecordedRequest } from './types.js';
import { DEFAULT_WEBHOOK_OPTIONS, mergeWebhookOptions, WebhookSender } from './webhooks.js';

export { signStripePayload, DEFAULT_WEBHOOK_OPTIONS } from './webhooks.js';
export { TEST_PAYMENT_METHODS } from './test-cards.js';
export type {
  ActiveFault,
  Charge,
  Delivery,
  Dispute,
  FakeStripe,
  FakeStripeOptions,
  FaultKind,
  FaultSpec,
  FaultWhen,
  PaymentIntent,
  RecordedRequest,
  Refund,
  StripeEvent,
  WebhookOptions,
  WebhookOrder,
} from './types.js';

/** The API version stripe-node 23.1.0 pins (node_modules/stripe/cjs/apiVersion.js); stamped on events. */
export const DEFAULT_API_VERSION = '2026-10-28.endive';

export async function startFakeStripe(opts: FakeStripeOptions): Promise<FakeStripe> {
  if (!opts.webhookSecret) throw new TypeError('startFakeStripe: webhookSecret is required');
  const host = opts.host ?? '127.0.0.1';
  const apiVersion = opts.apiVersion ?? DEFAULT_API_VERSION;
  const initialUrl = opts.webhookUrl ?? null;
  const initialWebhook = mergeWebhookOptions({ ...DEFAULT_WEBHOOK_OPTIONS }, opts.webhooks ?? {});

  const sender = new WebhookSender(initialUrl, opts.webhookSecret, initialWebhook);
  const events = new EventLog(apiVersion);
  const store = new PaymentStore(
    (type, object, ctx) => {
      sender.enqueue(events.record(type, object, ctx, sender.webhookUrl() === null ? 0 : 1));
    },
    () => opts.processingSettleMs ?? 0,
  );
  const idempotency = new IdempotencyStore(opts.idempotencyConflict ?? 'reject', opts.idempotencyTtlMs);
  const faults = new FaultInjector();
  const requests: RecordedRequest[] = [];
  let baseUrl = '';

  const deps: ApiDeps = {
    store,
    events,
    idempotency,
    faults,
    requests,
    apiKeyPrefix: opts.apiKeyPrefix ?? 'sk_test_',
    apiVersion,
    baseUrl: () => baseUrl,
    log: opts.log ?? false,
  };

  const server = http.createServer((req, res) => {
    const isControl = (req.url ?? '/').startsWith('/_fake/');
    const work = isControl ? handleControl(req, res, fake) : handleApi(req, res, deps);
    work.catch((e: unknown) => {
      console.error('[fake-stripe] request failed', e);
      if (!res.headersSent)
        sendJson(res, 500, { error: { type: 'api_error', message: 'fake-stripe crashed' } });
      else res.destroy();
    });
  });
  // stripe-node pools keep-alive sockets. Node's default 5 s server idle timeout races with reuse: the client
  // writes on a socket the server is closing, gets ECONNRESET, and the SDK silently re-sends — an extra
  // POST in requests() that tests would have to explain. Keep idle sockets longer than any test runs.
  server.keepAliveTimeout = 120_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const helperCtx = (): RequestContext => ({ requestId: null, idempotencyKey: null, baseUrl });

  const fake: FakeStripe = {
    url: baseUrl,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        sender.close();
        server.close((err) => (err ? reject(err) : resolve()));
        // Pooled keep-alive sockets (the SDK's) and hung fault requests would otherwise hold close() open.
        server.closeAllConnections();
      }),
    reset: () => {
      store.reset();
      events.reset();
      idempotency.clear();
      faults.clear();
      requests.length = 0;
      sender.reset(initialUrl, { ...initialWebhook, enabledEvents: [...initialWebhook.enabledEvents] });
    },
    setWebhookOptions: (o) => sender.setOptions(o),
    webhookOptions: () => sender.options(),
    setWebhookUrl: (url) => sender.setUrl(url),
    webhookUrl: () => sender.webhookUrl(),
    injectFault: (f) => faults.add(f),
    faults: () => faults.list(),
    clearFaults: () => faults.clear(),
    completeAuthentication: async (piId, outcome) => store.completeAuthentication(piId, outcome, helperCtx()),
    settleProcessing: async (piId, outcome) => store.settleProcessing(piId, outcome, helperCtx()),
    customerConfirm: async (piId, paymentMethod) => store.customerConfirm(piId, paymentMethod, helperCtx()),
    dashboardRefund: async (piId, amount) => store.dashboardRefund(piId, amount, helperCtx()),
    openDispute: async (piId, reason = 'fraudulent') => store.openDispute(piId, reason, helperCtx()),
    closeDispute: async (disputeId, outcome) => store.closeDispute(disputeId, outcome, helperCtx()),
    paymentIntents: () => store.allIntents(),
    events: () => events.all(),
    requests: () => requests.map((r) => structuredClone(r)),
    deliveries: () => sender.deliveries(),
    droppedEvents: () => sender.droppedEvents(),
    redeliver: (eventId) => sender.enqueue(events.get(eventId)),
    webhooksIdle: (timeoutMs) => sender.idle(timeoutMs),
  };
  return fake;
}

// The /v1 surface. One request goes through: record → decode → authenticate → fault (before) → route →
// idempotency layer → [fault (saved-before)] handler [fault (saved-after)] → fault (after) → answer.
// "before" models a failure in front of Stripe (nothing executed, nothing saved, so a retry with the same
// key runs for real); "after" models a lost response (the retry replays the saved real answer). The
// "saved-…" faults strike inside the idempotency layer, once the endpoint began executing: Stripe saves
// that 500 and replays it for the same key for 24 h (docs.stripe.com/idempotency), so a retry with the
// same key can never learn what happened — "saved-after" even hides an operation that did happen.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiError, invalidApiKey, missingApiKey, StripeApiError, unrecognizedUrl } from './errors.js';
import type { EventLog } from './events.js';
import type { FaultInjector } from './faults.js';
import { canonicalJson, decodeStripeForm, Params, type FormObject } from './form.js';
import { BodyTooLargeError, hangThenDrop, matchPath, readBody, send, sleep } from './http.js';
import {
  validateKey,
  type ExecutionResult,
  type IdempotencyStore,
  type StoredAnswer,
} from './idempotency.js';
import { newId } from './ids.js';
import type { PaymentStore, RequestContext } from './payment-intents.js';
import type { ActiveFault, RecordedRequest } from './types.js';

export interface ApiDeps {
  store: PaymentStore;
  events: EventLog;
  idempotency: IdempotencyStore;
  faults: FaultInjector;
  requests: RecordedRequest[];
  apiKeyPrefix: string;
  apiVersion: string;
  baseUrl: () => string;
  log: boolean;
}

interface RouteInput {
  params: Params;
  path: Record<string, string>;
  ctx: RequestContext;
}

interface Route {
  method: 'GET' | 'POST';
  template: string;
  handle: (deps: ApiDeps, input: RouteInput) => unknown;
}

const ROUTES: Route[] = [
  { method: 'POST', template: '/v1/payment_intents', handle: (d, i) => d.store.create(i.params, i.ctx) },
  { method: 'GET', template: '/v1/payment_intents', handle: (d, i) => d.store.list(i.params) },
  {
    method: 'GET',
    template: '/v1/payment_intents/:id',
    handle: (d, i) => d.store.retrieve(i.path.id!, i.params),
  },
  {
    method: 'POST',
    template: '/v1/payment_intents/:id',
    handle: (d, i) => d.store.update(i.path.id!, i.params),
  },
  {
    method: 'POST',
    template: '/v1/payment_intents/:id/confirm',
    handle: (d, i) => d.store.confirm(i.path.id!, i.params, i.ctx),
  },
  {
    method: 'POST',
    template: '/v1/payment_intents/:id/cancel',
    handle: (d, i) => d.store.cancel(i.path.id!, i.params, i.ctx),
  },
  {
    method: 'POST',
    template: '/v1/payment_intents/:id/capture',
    handle: (d, i) => d.store.capture(i.path.id!, i.params, i.ctx),
  },
  { method: 'GET', template: '/v1/charges/:id', handle: (d, i) => d.store.retrieveCharge(i.path.id!) },
  { method: 'POST', template: '/v1/refunds', handle: (d, i) => d.store.createRefund(i.params, i.ctx) },
  { method: 'GET', template: '/v1/refunds', handle: (d, i) => d.store.listRefunds(i.params) },
  { method: 'GET', template: '/v1/refunds/:id', handle: (d, i) => d.store.retrieveRefund(i.path.id!) },
  { method: 'GET', template: '/v1/events', handle: (d, i) => d.events.list(i.params) },
  { method: 'GET', template: '/v1/events/:id', handle: (d, i) => d.events.get(i.path.id!) },
];

function findRoute(method: string, path: string): { route: Route; path: Record<string, string> } | null {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const params = matchPath(route.template, path);
    if (params) return { route, path: params };
  }
  return null;
}

/** Secret key from `Authorization: Bearer sk_…` or curl-style Basic auth (`-u sk_…:`). */
function apiKeyOf(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1]!;
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (basic) return Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')[0] ?? null;
  return null;
}

function headerOf(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? (v[0] ?? null) : null;
}

function errorJson(err: StripeApiError, requestId: string): string {
  return JSON.stringify(
    { error: { ...err.body, request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}` } },
    null,
    2,
  );
}

export async function handleApi(req: IncomingMessage, res: ServerResponse, deps: ApiDeps): Promise<void> {
  const started = Date.now();
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', 'http://fake-stripe.invalid');
  const path = url.pathname;
  const requestId = newId('req');
  const stripeVersion = headerOf(req, 'stripe-version');
  // Stripe ignores idempotency keys on GET (reads are naturally idempotent).
  const idempotencyKey = method === 'POST' ? headerOf(req, 'idempotency-key') : null;
  const record: RecordedRequest = {
    id: requestId,
    method,
    path,
    params: {},
    idempotencyKey,
    stripeVersion,
    receivedAt: started,
    status: null,
    replayed: false,
    fault: null,
    durationMs: null,
  };
  deps.requests.push(record);

  const baseHeaders: Record<string, string> = {
    'Request-Id': requestId,
    'Stripe-Version': stripeVersion ?? deps.apiVersion,
    ...(idempotencyKey !== null ? { 'Idempotency-Key': idempotencyKey } : {}),
  };
  const finish = (status: number, body: string, extra: Record<string, string> = {}): void => {
    record.status = status;
    record.durationMs = Date.now() - started;
    if (deps.log)
      console.error(`[fake-stripe] ${method} ${path} → ${status}${record.replayed ? ' (replayed)' : ''}`);
    send(res, status, body, { ...baseHeaders, ...extra });
  };
  const fail = (err: StripeApiError): void => finish(err.status, errorJson(err, requestId));
  const dropped = (): void => {
    record.durationMs = Date.now() - started;
    if (deps.log) console.error(`[fake-stripe] ${method} ${path} → connection dropped`);
  };

  let params: FormObject;
  try {
    const raw = await readBody(req);
    params = { ...decodeStripeForm(url.search.slice(1)), ...decodeStripeForm(raw) };
  } catch (e) {
    const message = e instanceof BodyTooLargeError ? e.message : 'Invalid request body.';
    finish(400, JSON.stringify({ error: { type: 'invalid_request_error', message } }, null, 2));
    return;
  }
  record.params = params;

  const apiKey = apiKeyOf(req);
  if (apiKey === null) return fail(missingApiKey());
  if (!apiKey.startsWith(deps.apiKeyPrefix) || apiKey.length <= deps.apiKeyPrefix.length) {
    return fail(invalidApiKey(apiKey));
  }

  // A failure in front of (or behind) the API can strike any request, a replay too. One inside the
  // endpoint strikes only a request the endpoint runs: Stripe answers a replay from the saved result
  // without running anything (docs.stripe.com/idempotency), so a replay must not use such a fault up.
  const outer = deps.faults.take(method, path, (f) => f.when === 'before' || f.when === 'after');
  record.fault = outer?.kind ?? null;
  if (outer?.when === 'before') {
    const ended = await applyFault(outer, req, res, fail, dropped);
    if (ended) return;
  }

  const match = findRoute(method, path);
  if (!match) return fail(unrecognizedUrl(method, path));

  const ctx: RequestContext = { requestId, idempotencyKey, baseUrl: deps.baseUrl() };
  const input: RouteInput = { params: new Params(params), path: match.path, ctx };
  const savedFault = (status: number): ExecutionResult => ({
    status,
    body: errorJson(apiError(status), requestId),
    requestId,
    store: true,
  });
  const execute = async (): Promise<ExecutionResult> => {
    const fault = outer ? null : deps.faults.take(method, path, (f) => f.when.startsWith('saved-'));
    if (fault) record.fault = fault.kind;
    if (fault?.when === 'saved-before') {
      if (fault.kind === 'error') return savedFault(fault.status);
      await sleep(fault.ms);
    }
    let result: ExecutionResult;
    try {
      const body = match.route.handle(deps, input);
      result = { status: 200, body: JSON.stringify(body, null, 2), requestId, store: true };
    } catch (e) {
      if (e instanceof StripeApiError) {
        result = { status: e.status, body: errorJson(e, requestId), requestId, store: e.storeIdempotent };
      } else {
        console.error('[fake-stripe] handler crashed', e);
        // The endpoint began executing: Stripe saves such a 500 under the key like any other answer.
        result = { status: 500, body: errorJson(apiError(), requestId), requestId, store: true };
      }
    }
    // The operation ran (or was refused on its merits); the answer the key keeps is the 5xx regardless.
    return fault?.when === 'saved-after' && fault.kind === 'error' && result.store
      ? savedFault(fault.status)
      : result;
  };

  let answer: StoredAnswer;
  try {
    if (idempotencyKey !== null) {
      validateKey(idempotencyKey);
      const outcome = await deps.idempotency.run(
        apiKey,
        idempotencyKey,
        `${method} ${path}`,
        canonicalJson(params),
        execute,
      );
      answer = outcome.answer;
      record.replayed = outcome.replayed;
    } else {
      answer = await execute();
    }
  } catch (e) {
    if (e instanceof StripeApiError) return fail(e);
    throw e;
  }

  if (outer?.when === 'after') {
    const ended = await applyFault(outer, req, res, fail, dropped);
    if (ended) return;
  }
  finish(
    answer.status,
    answer.body,
    record.replayed ? { 'Idempotent-Replayed': 'true', 'Original-Request': answer.requestId } : {},
  );
}

/** Returns true when the fault ended the exchange (error sent or connection dropped). */
async function applyFault(
  fault: ActiveFault,
  req: IncomingMessage,
  res: ServerResponse,
  fail: (err: StripeApiError) => void,
  dropped: () => void,
): Promise<boolean> {
  switch (fault.kind) {
    case 'error':
      fail(apiError(fault.status));
      return true;
    case 'timeout':
      await hangThenDrop(req, res, fault.ms);
      dropped();
      return true;
    case 'delay':
      await sleep(fault.ms);
      return false;
  }
}

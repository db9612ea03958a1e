// Test-only control surface under /_fake (outside /v1, so it can never be mistaken for Stripe's API). JSON in,
// JSON out, no authentication: the fake binds to loopback by default.
//
//   GET    /_fake/health
//   POST   /_fake/reset
//   GET    /_fake/payment_intents                     every intent, oldest first
//   POST   /_fake/payment_intents/:id/authenticate    {"outcome":"succeed"|"fail"}
//   POST   /_fake/payment_intents/:id/settle          {"outcome":"succeed"|"fail"}  (a processing intent)
//   POST   /_fake/payment_intents/:id/customer_confirm {"payment_method":"pm_…"}   (client-secret path)
//   POST   /_fake/payment_intents/:id/dashboard_refund {"amount"?}                 (refund outside the app)
//   POST   /_fake/payment_intents/:id/dispute         {"reason"?}
//   POST   /_fake/disputes/:id/close                  {"outcome":"won"|"lost"}
//   GET    /_fake/3ds/:id[?outcome=succeed|fail]      the "bank page" next_action points at; with an outcome it
//                                                     completes and redirects to return_url (if any)
//   GET    /_fake/events | /_fake/requests | /_fake/deliveries | /_fake/dropped
//   POST   /_fake/events/:id/redeliver                send a recorded event again (same id)
//   GET    /_fake/webhook                             {"url", "options"}
//   POST   /_fake/webhook                             {"url"?, ...options}  e.g. {"duplicate":2,"order":"reverse"}
//   POST   /_fake/webhook/flush                       waits until deliveries are idle {"timeoutMs"?}
//   GET    /_fake/faults | DELETE /_fake/faults
//   POST   /_fake/faults                              a FaultSpec or an array of them
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StripeApiError } from './errors.js';
import { matchPath, readBody, send, sendJson } from './http.js';
import type { FakeStripe, FaultSpec, WebhookOptions } from './types.js';

class BadRequest extends Error {}

function parseJson(raw: string): unknown {
  if (raw.trim() === '') return {};
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new BadRequest('body must be JSON');
  }
}

function asObject(v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new BadRequest('body must be a JSON object');
  return v as Record<string, unknown>;
}

function outcomeOf(v: unknown): 'succeed' | 'fail' {
  if (v === 'succeed' || v === 'fail') return v;
  throw new BadRequest("outcome must be 'succeed' or 'fail'");
}

export async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  fake: FakeStripe,
): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', 'http://fake-stripe.invalid');
  const path = url.pathname.replace(/\/+$/, '');
  try {
    const raw = await readBody(req);
    const route = `${method} ${path}`;
    let m: Record<string, string> | null;

    if (route === 'GET /_fake/health') return sendJson(res, 200, { ok: true });
    if (route === 'POST /_fake/reset') {
      fake.reset();
      return sendJson(res, 200, { ok: true });
    }
    if (route === 'GET /_fake/payment_intents') return sendJson(res, 200, fake.paymentIntents());
    if (route === 'GET /_fake/events') return sendJson(res, 200, fake.events());
    if (route === 'GET /_fake/requests') return sendJson(res, 200, fake.requests());
    if (route === 'GET /_fake/deliveries') return sendJson(res, 200, fake.deliveries());
    if (route === 'GET /_fake/dropped') return sendJson(res, 200, fake.droppedEvents());
    if (route === 'GET /_fake/webhook') return sendJson(res, 200, webhookState(fake));
    if (route === 'POST /_fake/webhook') {
      const body = asObject(parseJson(raw));
      const { url: webhookUrl, ...options } = body;
      if (webhookUrl !== undefined) {
        if (webhookUrl !== null && typeof webhookUrl !== 'string')
          throw new BadRequest('url must be a string or null');
        fake.setWebhookUrl(webhookUrl);
      }
      fake.setWebhookOptions(options as Partial<WebhookOptions>);
      return sendJson(res, 200, webhookState(fake));
    }
    if (route === 'POST /_fake/webhook/flush') {
      const body = asObject(parseJson(raw));
      const timeoutMs = typeof body.timeoutMs === 'number' ? body.timeoutMs : undefined;
      await fake.webhooksIdle(timeoutMs);
      return sendJson(res, 200, { ok: true, deliveries: fake.deliveries().length });
    }
    if (route === 'GET /_fake/faults') return sendJson(res, 200, fake.faults());
    if (route === 'DELETE /_fake/faults') {
      fake.clearFaults();
      return sendJson(res, 200, { ok: true });
    }
    if (route === 'POST /_fake/faults') {
      const body = parseJson(raw);
      const specs = (Array.isArray(body) ? body : [body]).map((s) => asObject(s) as unknown as FaultSpec);
      return sendJson(
        res,
        200,
        specs.map((s) => fake.injectFault(s)),
      );
    }
    if (method === 'POST' && (m = matchPath('/_fake/payment_intents/:id/authenticate', path))) {
      const body = asObject(parseJson(raw));
      const pi = await fake.completeAuthentication(m.id!, outcomeOf(body.outcome ?? 'succeed'));
      return sendJson(res, 200, pi);
    }
    if (method === 'POST' && (m = matchPath('/_fake/payment_intents/:id/settle', path))) {
      const body = asObject(parseJson(raw));
      return sendJson(res, 200, await fake.settleProcessing(m.id!, outcomeOf(body.outcome ?? 'succeed')));
    }
    if (method === 'POST' && (m = matchPath('/_fake/payment_intents/:id/customer_confirm', path))) {
      const body = asObject(parseJson(raw));
      if (typeof body.payment_method !== 'string') throw new BadRequest('payment_method must be a string');
      return sendJson(res, 200, await fake.customerConfirm(m.id!, body.payment_method));
    }
    if (method === 'POST' && (m = matchPath('/_fake/payment_intents/:id/dashboard_refund', path))) {
      const body = asObject(parseJson(raw));
      if (body.amount !== undefined && !Number.isInteger(body.amount))
        throw new BadRequest('amount must be an integer');
      return sendJson(res, 200, await fake.dashboardRefund(m.id!, body.amount as number | undefined));
    }
    if (method === 'POST' && (m = matchPath('/_fake/payment_intents/:id/dispute', path))) {
      const body = asObject(parseJson(raw));
      if (body.reason !== undefined && typeof body.reason !== 'string')
        throw new BadRequest('reason must be a string');
      return sendJson(res, 200, await fake.openDispute(m.id!, body.reason as string | undefined));
    }
    if (method === 'POST' && (m = matchPath('/_fake/disputes/:id/close', path))) {
      const body = asObject(parseJson(raw));
      if (body.outcome !== 'won' && body.outcome !== 'lost')
        throw new BadRequest("outcome must be 'won' or 'lost'");
      return sendJson(res, 200, await fake.closeDispute(m.id!, body.outcome));
    }
    if (method === 'POST' && (m = matchPath('/_fake/events/:id/redeliver', path))) {
      fake.redeliver(m.id!);
      return sendJson(res, 200, { ok: true });
    }
    if (method === 'GET' && (m = matchPath('/_fake/3ds/:id', path))) {
      return await threeDSecurePage(res, fake, m.id!, url.searchParams.get('outcome'));
    }
    return sendJson(res, 404, { error: { message: `no control route ${route}` } });
  } catch (e) {
    if (e instanceof StripeApiError) return sendJson(res, e.status, { error: e.body });
    // Validation errors from the option/fault parsers are TypeErrors by convention (see webhooks.ts, faults.ts).
    if (e instanceof BadRequest || e instanceof TypeError)
      return sendJson(res, 400, { error: { message: e.message } });
    throw e;
  }
}

function webhookState(fake: FakeStripe): { url: string | null; options: WebhookOptions } {
  return { url: fake.webhookUrl(), options: fake.webhookOptions() };
}

/**
 * Stands in for the issuer's 3-D Secure page. Without an outcome it shows two links; with one it completes
 * the challenge and, like Stripe, sends the browser to return_url with the intent id and client secret.
 */
async function threeDSecurePage(
  res: ServerResponse,
  fake: FakeStripe,
  id: string,
  outcome: string | null,
): Promise<void> {
  if (outcome === null) {
    const html =
      `<!doctype html><title>Fake 3-D Secure</title><h1>Authenticate ${id}</h1>` +
      `<p><a href="?outcome=succeed">Complete authentication</a></p>` +
      `<p><a href="?outcome=fail">Fail authentication</a></p>`;
    return send(res, 200, html, {}, 'text/html; charset=utf-8');
  }
  const before = fake.paymentIntents().find((pi) => pi.id === id);
  const returnUrl = before?.next_action?.redirect_to_url?.return_url ?? null;
  const pi = await fake.completeAuthentication(id, outcomeOf(outcome));
  if (returnUrl === null) return sendJson(res, 200, pi);
  const target = new URL(returnUrl);
  target.searchParams.set('payment_intent', pi.id);
  if (pi.client_secret) target.searchParams.set('payment_intent_client_secret', pi.client_secret);
  target.searchParams.set('redirect_status', pi.status === 'succeeded' ? 'succeeded' : 'failed');
  res.writeHead(302, { Location: target.toString() });
  res.end();
}

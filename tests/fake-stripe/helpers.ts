// Shared fixtures for the fake Stripe tests: a real SDK client pointed at the fake, and a webhook receiver
// that keeps the raw bytes (signature verification needs them, not a re-serialized body).
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import type { FakeStripe } from '../../infra/fake-stripe/server.js';

export const WEBHOOK_SECRET = 'whsec_fake_stripe_tests';

export function sdk(fake: FakeStripe, config: Stripe.StripeConfig = {}): Stripe {
  return new Stripe('sk_test_fake_123', {
    host: '127.0.0.1',
    port: fake.port,
    protocol: 'http',
    maxNetworkRetries: 0,
    telemetry: false,
    ...config,
  });
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Status codes for the next deliveries, in order; afterwards 200. */
  failNext(...statuses: number[]): void;
  /** Forgets received deliveries and planned failures. */
  reset(): void;
  /** Event types in arrival order. */
  types(): string[];
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const planned: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      res.writeHead(planned.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/stripe`,
    received,
    failNext: (...statuses) => planned.push(...statuses),
    reset: () => {
      received.length = 0;
      planned.length = 0;
    },
    types: () => received.map((r) => (JSON.parse(r.body) as { type: string }).type),
    async waitFor(count, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`receiver got ${received.length}/${count} deliveries`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A call to the fake's /_fake control API over plain HTTP (JSON in, JSON or text out). */
export async function controlCall(
  fake: FakeStripe,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${fake.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await res.text();
  return {
    status: res.status,
    json: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
  };
}

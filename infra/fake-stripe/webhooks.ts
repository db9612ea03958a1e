// Signed webhook delivery, as Stripe does it: POST of the event JSON with
//   Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// re-signed on every attempt (fresh timestamp), retried with exponential backoff on non-2xx or network
// errors. On top of that the fake can misbehave on purpose — duplicate, reorder, delay, pause — because real
// Stripe promises neither exactly-once nor ordered delivery and the receiving code must cope with both.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { newId, unixNow } from './ids.js';
import type { Delivery, StripeEvent, WebhookOptions } from './types.js';

/** The `Stripe-Signature` header value for `payload` (the exact bytes sent), as Stripe computes it. */
export function signStripePayload(payload: string, secret: string, timestamp: number = unixNow()): string {
  const signature = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${signature}`;
}

export const DEFAULT_WEBHOOK_OPTIONS: Readonly<WebhookOptions> = Object.freeze({
  enabled: true,
  paused: false,
  duplicate: 1,
  order: 'in-order',
  batchWindowMs: 50,
  delayMs: 0,
  maxAttempts: 4,
  retryBackoffMs: 200,
  timeoutMs: 5_000,
  drop: 0,
  concurrency: 1,
  enabledEvents: ['*'],
});

/** Merges and sanity-checks a partial update; bad values throw (the control API answers 400). */
export function mergeWebhookOptions(base: WebhookOptions, patch: Partial<WebhookOptions>): WebhookOptions {
  const next: WebhookOptions = { ...base, ...stripUndefined(patch) };
  const ints: Array<[keyof WebhookOptions, number]> = [
    ['duplicate', 1],
    ['batchWindowMs', 0],
    ['delayMs', 0],
    ['maxAttempts', 1],
    ['retryBackoffMs', 0],
    ['timeoutMs', 1],
    ['concurrency', 1],
  ];
  for (const [name, min] of ints) {
    const v = next[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new TypeError(`webhook option ${name} must be an integer ≥ ${min}`);
    }
  }
  if (typeof next.drop !== 'number' || !(next.drop >= 0 && next.drop <= 1)) {
    throw new TypeError('webhook option drop must be a number between 0 and 1');
  }
  if (!['in-order', 'reverse', 'shuffle'].includes(next.order)) {
    throw new TypeError("webhook option order must be 'in-order', 'reverse' or 'shuffle'");
  }
  if (!Array.isArray(next.enabledEvents) || next.enabledEvents.some((e) => typeof e !== 'string')) {
    throw new TypeError('webhook option enabledEvents must be an array of event types');
  }
  return { ...next, enabledEvents: [...next.enabledEvents] };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

interface Pending {
  event: StripeEvent;
  payload: string;
  copy: number;
  attempt: number;
  due: number;
  /** Enqueue order; retries keep theirs. */
  seq: number;
}

export class WebhookSender {
  private opts: WebhookOptions;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private running = false;
  private closed = false;
  /** Bumped by reset(): work started before it neither records nor retries. */
  private generation = 0;
  private seq = 0;
  private log: Delivery[] = [];
  private dropped: string[] = [];
  private idleWaiters: Array<() => void> = [];
  // A private agent without keep-alive: the receiving test servers come and go, and a pooled socket to a
  // closed server would turn the next delivery into a spurious ECONNRESET.
  private readonly httpAgent = new http.Agent({ keepAlive: false });
  private readonly httpsAgent = new https.Agent({ keepAlive: false });

  constructor(
    private url: string | null,
    private readonly secret: string,
    opts: WebhookOptions,
  ) {
    this.opts = opts;
  }

  options(): WebhookOptions {
    return { ...this.opts, enabledEvents: [...this.opts.enabledEvents] };
  }

  setOptions(patch: Partial<WebhookOptions>): void {
    this.opts = mergeWebhookOptions(this.opts, patch);
    this.reschedule();
  }

  webhookUrl(): string | null {
    return this.url;
  }

  setUrl(url: string | null): void {
    if (url !== null) new URL(url); // throws on garbage, before it can break every delivery
    this.url = url;
    this.reschedule();
  }

  /** Queues one event (× duplicate copies), unless webhooks are off or the event type is not enabled. */
  enqueue(event: StripeEvent): void {
    if (this.closed || !this.opts.enabled || this.url === null) return;
    const types = this.opts.enabledEvents;
    if (!types.includes('*') && !types.includes(event.type)) return;
    // Lost for good: recorded in the event log (GET /v1/events), never delivered.
    if (this.opts.drop > 0 && Math.random() < this.opts.drop) {
      this.dropped.push(event.id);
      return;
    }
    // Stripe sends pretty-printed JSON; the signature covers these exact bytes, so receivers must verify the
    // raw body, not a re-serialization. Pretty-printing makes that mistake fail loudly in tests.
    const payload = JSON.stringify(event, null, 2);
    const due = Date.now() + this.opts.delayMs;
    for (let copy = 1; copy <= this.opts.duplicate; copy++) {
      this.queue.push({ event, payload, copy, attempt: 1, due, seq: this.seq++ });
    }
    this.reschedule();
  }

  deliveries(): Delivery[] {
    return this.log.map((d) => ({ ...d }));
  }

  /** Ids of events the `drop` option lost. */
  droppedEvents(): string[] {
    return [...this.dropped];
  }

  /** Number of events/copies still queued (including held or backing-off ones). */
  pendingCount(): number {
    return this.queue.length;
  }

  /** Resolves once nothing is queued or in flight (retries included). Rejects after timeoutMs. */
  idle(timeoutMs = 10_000): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        reject(
          new Error(
            `webhooks not idle after ${timeoutMs} ms (${this.queue.length} queued${this.opts.paused ? ', paused' : ''})`,
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.push(done);
    });
  }

  /** Drops queued work and the delivery log; in-flight attempts finish unrecorded. */
  reset(url: string | null, opts: WebhookOptions): void {
    this.generation++;
    this.clearTimer();
    this.queue = [];
    this.log = [];
    this.dropped = [];
    this.url = url;
    this.opts = opts;
    this.notifyIdle();
  }

  close(): void {
    this.closed = true;
    this.generation++;
    this.clearTimer();
    this.queue = [];
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.notifyIdle(true);
  }

  // ---- scheduling -----------------------------------------------------------------------------------------

  private isIdle(): boolean {
    return this.queue.length === 0 && !this.running && this.timer === null;
  }

  private notifyIdle(force = false): void {
    if (!force && !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  /** Arms the batch timer for the earliest due delivery (plus the reorder window). */
  private reschedule(): void {
    if (this.closed || this.running) return;
    if (this.queue.length === 0) {
      this.clearTimer();
      this.notifyIdle();
      return;
    }
    if (this.opts.paused) {
      this.clearTimer();
      return;
    }
    // reduce, not Math.min(...spread): a benchmark can queue more deliveries than the argument limit.
    const firstDue = this.queue.reduce((min, q) => Math.min(min, q.due), Infinity);
    const windowMs = this.opts.order === 'in-order' ? 0 : this.opts.batchWindowMs;
    const at = Math.max(firstDue, Date.now()) + windowMs;
    // An armed timer that fires sooner already covers this; only move it earlier (e.g. a new event arriving
    // while a long retry backoff is pending), never later, so a steady stream cannot starve a batch.
    if (this.timer && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        void this.runBatch();
      },
      Math.max(0, at - Date.now()),
    );
  }

  private async runBatch(): Promise<void> {
    if (this.running || this.closed) return;
    const generation = this.generation;
    this.running = true;
    try {
      const now = Date.now();
      const ready = this.queue.filter((q) => q.due <= now).sort((a, b) => a.seq - b.seq);
      this.queue = this.queue.filter((q) => q.due > now);
      if (this.opts.order === 'reverse') ready.reverse();
      else if (this.opts.order === 'shuffle') shuffle(ready);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < ready.length) {
          const item = ready[next++]!;
          await this.deliver(item, generation);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, ready.length) }, worker));
    } finally {
      this.running = false;
      this.reschedule();
    }
  }

  private async deliver(item: Pending, generation: number): Promise<void> {
    const url = this.url;
    if (generation !== this.generation || url === null) return;
    const signatureHeader = signStripePayload(item.payload, this.secret);
    const sentAt = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      status = await this.post(url, item.payload, signatureHeader);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (generation !== this.generation) return;
    const ok = status !== null && status >= 200 && status < 300;
    if (!ok && error === null) error = `endpoint answered ${status}`;
    this.log.push({
      id: newId('whd'),
      eventId: item.event.id,
      eventType: item.event.type,
      copy: item.copy,
      attempt: item.attempt,
      url,
      status,
      ok,
      error,
      sentAt,
      durationMs: Date.now() - sentAt,
      signatureHeader,
      payload: item.payload,
    });
    if (!ok && item.attempt < this.opts.maxAttempts) {
      const backoff = this.opts.retryBackoffMs * 2 ** (item.attempt - 1);
      this.queue.push({ ...item, attempt: item.attempt + 1, due: Date.now() + backoff });
    }
  }

  private post(url: string, payload: string, signature: string): Promise<number> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    return new Promise<number>((resolve, reject) => {
      const req = (secure ? https : http).request(
        target,
        {
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: {
            'Content-Type': 'application/json; charset=utf-8',
            'Content-Length': Buffer.byteLength(payload),
            'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
            Accept: '*/*; q=0.5, application/xml',
            'Cache-Control': 'no-cache',
            'Stripe-Signature': signature,
          },
        },
        (res) => {
          res.resume(); // the body is irrelevant; drain it so the socket closes
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.setTimeout(this.opts.timeoutMs, () =>
        req.destroy(new Error(`timed out after ${this.opts.timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

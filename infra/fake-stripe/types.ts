// Shapes shared by the fake Stripe modules. PaymentIntent and Refund reuse the real SDK's types (type-only
// import, nothing of the SDK runs inside the fake), so the compiler tells us when an object we serve
// drifts from what `stripe` 23.x declares. Charge and Event are deliberate subsets: the full SDK types
// need dozens of nested objects nobody in this project reads.
import type Stripe from 'stripe';

export type PaymentIntent = Stripe.PaymentIntent;
export type Refund = Stripe.Refund;
export type LastPaymentError = Stripe.PaymentIntent.LastPaymentError;

/** The subset of Stripe's Charge that the fake maintains (enough for refunds and `latest_charge`). */
export type Charge = Pick<
  Stripe.Charge,
  | 'id'
  | 'object'
  | 'amount'
  | 'amount_captured'
  | 'amount_refunded'
  | 'balance_transaction'
  | 'captured'
  | 'created'
  | 'currency'
  | 'customer'
  | 'description'
  | 'disputed'
  | 'failure_code'
  | 'failure_message'
  | 'livemode'
  | 'metadata'
  | 'outcome'
  | 'paid'
  | 'payment_intent'
  | 'payment_method'
  | 'receipt_email'
  | 'refunded'
  | 'status'
> & {
  payment_method_details: { type: 'card'; card: { brand: string; last4: string; country: string } };
};

/** The subset of Stripe's Dispute the fake maintains. */
export type Dispute = Pick<
  Stripe.Dispute,
  'id' | 'object' | 'amount' | 'charge' | 'created' | 'currency' | 'livemode' | 'metadata' | 'reason'
> & {
  payment_intent: string | null;
  status: 'needs_response' | 'won' | 'lost';
};

/** Objects that can appear as `data.object` of an event. */
export type EventObject = PaymentIntent | Charge | Refund | Dispute;

/** A Stripe v1 event (snapshot-style, as delivered to webhook endpoints). */
export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: EventObject };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

/** Order in which a batch of ready webhook deliveries is sent. */
export type WebhookOrder = 'in-order' | 'reverse' | 'shuffle';

export interface WebhookOptions {
  /** false = events are still recorded (GET /v1/events) but never sent. */
  enabled: boolean;
  /** Hold every delivery until paused is set back to false (then they go out as one batch, in `order`). */
  paused: boolean;
  /** Deliveries per event: 1 = normal, 2 = every event arrives twice with the same event id, … */
  duplicate: number;
  order: WebhookOrder;
  /**
   * With order ≠ in-order, wait this long after the first ready delivery so that the events of one API call
   * (e.g. created + succeeded) land in the same batch and can actually be reordered.
   */
  batchWindowMs: number;
  /** Extra latency before each event's first attempt. */
  delayMs: number;
  /** Attempts per delivery (first try included) before giving up; a non-2xx answer or a network error fails one. */
  maxAttempts: number;
  /** Backoff before retry n is retryBackoffMs · 2^(n-1). */
  retryBackoffMs: number;
  /** Per-attempt HTTP timeout. */
  timeoutMs: number;
  /**
   * Fraction (0..1) of events that are never delivered (Stripe gives up after its retries, or the endpoint
   * was misconfigured): they stay in the event log (GET /v1/events) but no delivery is attempted.
   */
  drop: number;
  /** Deliveries in flight at once. 1 keeps the order strict (the default: tests reason about order). */
  concurrency: number;
  /** Event types sent, like a webhook endpoint's enabled_events; ['*'] = all. */
  enabledEvents: string[];
}

/** One HTTP attempt to deliver one copy of one event. */
export interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  /** 1-based copy number when duplicate > 1. */
  copy: number;
  /** 1-based attempt number of this copy. */
  attempt: number;
  url: string;
  /** HTTP status from the endpoint; null on a network error or timeout. */
  status: number | null;
  ok: boolean;
  error: string | null;
  sentAt: number;
  durationMs: number;
  signatureHeader: string;
  payload: string;
}

export type FaultKind = 'error' | 'timeout' | 'delay';

/**
 * A fault applied to the next `times` requests matching method + path.
 * - error: answer `status` (default 500) with a Stripe `api_error` body.
 * - timeout: hold the request for `ms`, then drop the connection without answering (the SDK's own timeout
 *   should fire first).
 * - delay: answer normally, `ms` later.
 * `when` (see the README's table): an error defaults to `'saved-before'` — struck inside the endpoint and
 * saved under the key, as Stripe saves its own 5xx (docs.stripe.com/idempotency) — and timeouts and delays
 * to `'before'` (on the wire, nothing saved). A failure in front of the API that a same-key retry gets
 * through must be asked for with `'before'`. `when: 'after'` performs the operation first (idempotency
 * record included) and only then fails: the client sees an error although the payment moved.
 */
export interface FaultSpec {
  /** HTTP method to match; omitted = any. */
  method?: string;
  // Exact path, or a pattern where `*` matches one path segment and `**` any rest,
  // e.g. `/v1/payment_intents/*/confirm`.
  path: string;
  kind?: FaultKind;
  times?: number;
  status?: number;
  ms?: number;
  when?: FaultWhen;
}

/**
 * Where the fault strikes relative to Stripe's idempotency layer:
 * - `before`: in front of the API (a proxy or the network): nothing executed, nothing saved;
 * - `after`: the operation ran and its real answer was saved; only the response was lost on the way back;
 * - `saved-before`: the endpoint began executing and failed before changing anything; Stripe saves the
 *   5xx under the idempotency key and replays it for 24 h (docs.stripe.com/idempotency);
 * - `saved-after`: the operation happened, then the request failed; the saved answer is the 5xx, so the
 *   client never learns from a retry with that key that it succeeded.
 */
export type FaultWhen = 'before' | 'after' | 'saved-before' | 'saved-after';

/** A fault as stored, with its remaining count. */
export interface ActiveFault extends Required<Omit<FaultSpec, 'method'>> {
  id: string;
  method: string | null;
  remaining: number;
}

export interface RecordedRequest {
  id: string;
  method: string;
  path: string;
  /** Decoded form body and query, as the endpoint saw them. */
  params: Record<string, unknown>;
  idempotencyKey: string | null;
  stripeVersion: string | null;
  receivedAt: number;
  /** null while in flight, or when the connection was dropped (timeout fault / client gone). */
  status: number | null;
  replayed: boolean;
  fault: FaultKind | null;
  durationMs: number | null;
}

export interface FakeStripeOptions {
  /** 0 (default) = any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  webhookUrl?: string;
  webhookSecret: string;
  /** Accepted secret keys start with this (default `sk_test_`). */
  apiKeyPrefix?: string;
  /** Initial webhook options; reset() returns to these. */
  webhooks?: Partial<WebhookOptions>;
  /** api_version stamped on events (default: the version pinned by stripe-node 23.1.0). */
  apiVersion?: string;
  /**
   * Two requests with the same idempotency key at once: 'reject' (default, as Stripe) answers the later one
   * 409 `idempotency_key_in_use` and saves nothing for it; 'wait' serializes them (the later replays).
   */
  idempotencyConflict?: 'wait' | 'reject';
  /** Log each API request to stderr. */
  log?: boolean;
  /** How long a saved idempotent answer is replayed (Stripe: keys may be pruned once 24 h old). */
  idempotencyTtlMs?: number;
  /**
   * `pm_fake_processing*` intents settle on their own this long after entering `processing`; 0 (default)
   * = only `settleProcessing()` settles them.
   */
  processingSettleMs?: number;
}

/** A running fake. Everything here is also reachable over HTTP under /_fake (see control.ts). */
export interface FakeStripe {
  /** Base URL, e.g. http://127.0.0.1:12111 (no trailing slash). */
  url: string;
  port: number;
  close(): Promise<void>;
  /** Forgets all objects, events, idempotency keys, requests, deliveries and faults; restores the start options. */
  reset(): void;
  setWebhookOptions(o: Partial<WebhookOptions>): void;
  webhookOptions(): WebhookOptions;
  /** null = no endpoint configured: events are recorded but not sent. */
  setWebhookUrl(url: string | null): void;
  webhookUrl(): string | null;
  injectFault(f: FaultSpec): ActiveFault;
  faults(): ActiveFault[];
  clearFaults(): void;
  /** Finishes 3-D Secure for an intent in requires_action: 'succeed' → succeeded, 'fail' → requires_payment_method. */
  completeAuthentication(piId: string, outcome: 'succeed' | 'fail'): Promise<PaymentIntent>;
  paymentIntents(): PaymentIntent[];
  events(): StripeEvent[];
  requests(): RecordedRequest[];
  deliveries(): Delivery[];
  /** Ids of events the `drop` webhook option lost (recorded, never delivered). */
  droppedEvents(): string[];
  /** Settles an intent in `processing`: 'succeed' → succeeded, 'fail' → requires_payment_method. */
  settleProcessing(piId: string, outcome: 'succeed' | 'fail'): Promise<PaymentIntent>;
  /**
   * The customer confirms client-side with the client secret (Stripe.js `confirmPayment`), e.g. with a new
   * card after a decline: no idempotency key, no server call of ours.
   */
  customerConfirm(piId: string, paymentMethod: string): Promise<PaymentIntent>;
  /** A refund made in the Dashboard (outside the app); full when `amount` is omitted. */
  dashboardRefund(piId: string, amount?: number): Promise<Refund>;
  /** The cardholder disputes the intent's charge (`charge.dispute.created`). */
  openDispute(piId: string, reason?: string): Promise<Dispute>;
  /** The dispute ends (`charge.dispute.closed`), won or lost. */
  closeDispute(disputeId: string, outcome: 'won' | 'lost'): Promise<Dispute>;
  /** Sends an already recorded event again (as Stripe's "Resend" does): same id, same payload, fresh signature. */
  redeliver(eventId: string): void;
  /** Resolves when every queued webhook delivery (retries included) has been attempted. */
  webhooksIdle(timeoutMs?: number): Promise<void>;
}

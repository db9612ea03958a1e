// Stripe's v1 idempotency layer, reduced to what a client can observe:
// - the first request with a key runs; once the endpoint has begun executing, its status and body are saved;
// - a later request with the same key and the same endpoint + parameters gets the saved answer back
//   (`Idempotent-Replayed: true`), without running again;
// - the same key with another endpoint or other parameters is a 400 `idempotency_error`;
// - keys are scoped to the API key (Stripe scopes them to the account).
// - a saved answer is replayed for 24 h, then pruned (docs.stripe.com/idempotency: "at least 24 hours old");
// - a request whose key is in use by a request still running gets 409 `idempotency_key_in_use`, and nothing
//   is saved for it (docs.stripe.com/error-low-level#idempotency). 'wait' mode serializes such requests
//   instead (the later one replays) — kinder than Stripe, kept only for tests that ask for it.
import { idempotencyKeyInUse, idempotencyMismatch, StripeApiError } from './errors.js';

export interface StoredAnswer {
  status: number;
  body: string;
  /** Request id of the execution that produced the answer (Stripe's `Original-Request` header). */
  requestId: string;
}

interface Entry extends StoredAnswer {
  endpoint: string;
  fingerprint: string;
  savedAt: number;
}

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface ExecutionResult extends StoredAnswer {
  /** false = do not save (validation failures, unexpected crashes). */
  store: boolean;
}

export interface IdempotentOutcome {
  answer: StoredAnswer;
  replayed: boolean;
}

export const MAX_KEY_LENGTH = 255;

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private readonly tails = new Map<string, Promise<void>>();

  constructor(
    private readonly onConflict: 'wait' | 'reject' = 'reject',
    private readonly ttlMs: number = IDEMPOTENCY_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Runs `execute` at most once per (scope, key) while the saved answer exists. `endpoint` is `METHOD path`;
   * `fingerprint` is a canonical form of the parameters.
   */
  async run(
    scope: string,
    key: string,
    endpoint: string,
    fingerprint: string,
    execute: () => Promise<ExecutionResult>,
  ): Promise<IdempotentOutcome> {
    const slot = `${scope}\u0000${key}`;
    // A tail exists from the moment a request claims the key (synchronously, below) until it finishes.
    if (this.onConflict === 'reject' && this.tails.has(slot)) throw idempotencyKeyInUse(key);

    // Per-key mutex as a promise chain: each caller waits for the previous holder's tail.
    const previous = this.tails.get(slot) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(slot, tail);
    await previous;
    try {
      let saved = this.entries.get(slot);
      if (saved && this.now() - saved.savedAt >= this.ttlMs) {
        this.entries.delete(slot);
        saved = undefined;
      }
      if (saved) {
        if (saved.endpoint !== endpoint) throw idempotencyMismatch(key, 'endpoint', saved.endpoint);
        if (saved.fingerprint !== fingerprint) throw idempotencyMismatch(key, 'parameters');
        return {
          answer: { status: saved.status, body: saved.body, requestId: saved.requestId },
          replayed: true,
        };
      }
      const result = await execute();
      if (result.store) {
        const { status, body, requestId } = result;
        this.entries.set(slot, { status, body, requestId, endpoint, fingerprint, savedAt: this.now() });
      }
      return {
        answer: { status: result.status, body: result.body, requestId: result.requestId },
        replayed: false,
      };
    } finally {
      release();
      if (this.tails.get(slot) === tail) this.tails.delete(slot);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

export function validateKey(key: string): void {
  if (key.length > MAX_KEY_LENGTH) {
    throw new StripeApiError(
      400,
      {
        type: 'invalid_request_error',
        message: `Idempotency-Key must be at most ${MAX_KEY_LENGTH} characters long.`,
      },
      false,
    );
  }
}

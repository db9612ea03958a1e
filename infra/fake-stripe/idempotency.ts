// Stripe's v1 idempotency layer, reduced to what a client can observe:
// - the first request with a key runs; once the endpoint has begun executing, its status and body are saved;
// - a later request with the same key and the same endpoint + parameters gets the saved answer back
//   (`Idempotent-Replayed: true`), without running again;
// - the same key with another endpoint or other parameters is a 400 `idempotency_error`;
// - keys are scoped to the API key (Stripe scopes them to the account).
// Requests sharing a key are serialized: a racing duplicate waits for the first to finish and then replays
// it, so a burst of retries can never create two objects. ('reject' mode answers 409 instead, like Stripe.)
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
}

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

  constructor(private readonly onConflict: 'wait' | 'reject' = 'wait') {}

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
      const saved = this.entries.get(slot);
      if (saved) {
        if (saved.endpoint !== endpoint) throw idempotencyMismatch(key, 'endpoint', saved.endpoint);
        if (saved.fingerprint !== fingerprint) throw idempotencyMismatch(key, 'parameters');
        return {
          answer: { status: saved.status, body: saved.body, requestId: saved.requestId },
          replayed: true,
        };
      }
      const result = await execute();
      if (result.store) this.entries.set(slot, { ...result, endpoint, fingerprint });
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

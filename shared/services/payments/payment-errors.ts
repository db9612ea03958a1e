import Stripe from 'stripe';

/**
 * A failure worth retrying: Stripe 5xx or 429, a network error or timeout, or a lock conflict. Activities
 * let it propagate so the orchestration's RetryOptions retry them; the idempotency keys make the retry
 * safe even when the first attempt did reach Stripe.
 */
export class TransientPaymentError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    /**
     * Stripe answered with a saved response (`Idempotent-Replayed: true`): the key is spent — retrying
     * it returns the same failure for 24 h (docs.stripe.com/idempotency).
     */
    readonly replayed = false,
  ) {
    super(message);
    this.name = 'TransientPaymentError';
  }
}

export type StripeFailure =
  /** The card was declined (final for this payment method: never retried). */
  | { kind: 'declined'; code: string }
  /** Stripe refused the request for good (bad parameters, unknown payment method, wrong state). */
  | { kind: 'rejected'; code: string }
  | { kind: 'transient'; code: string; replayed?: boolean };

/**
 * Classifies an error from the Stripe SDK. Declines and invalid requests are final outcomes, returned
 * as values; everything that may succeed on a later attempt is transient. Messages are never copied:
 * they can quote parameters, and only codes go to logs and the payments table.
 */
export function classifyStripeError(error: unknown): StripeFailure {
  if (error instanceof Stripe.errors.StripeCardError) {
    return { kind: 'declined', code: error.decline_code ?? error.code ?? 'card_declined' };
  }
  if (error instanceof Stripe.errors.StripeError && error.code === 'idempotency_key_in_use') {
    // Another request with this key is still running (a duplicate activity): its outcome is not known
    // yet, and nothing was saved for this one; trying again later is right.
    return { kind: 'transient', code: error.code };
  }
  if (error instanceof Stripe.errors.StripeInvalidRequestError) {
    return { kind: 'rejected', code: error.code ?? 'invalid_request' };
  }
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    // Same key with different parameters: a bug on our side; retrying cannot help.
    return { kind: 'rejected', code: 'idempotency_error' };
  }
  if (error instanceof Stripe.errors.StripeError) {
    // API (5xx), connection, rate limit, authentication (a rotating key), permission, lock timeouts.
    const replayed = error.headers?.['idempotent-replayed'] === 'true';
    return { kind: 'transient', code: error.code ?? error.type, ...(replayed ? { replayed } : {}) };
  }
  return { kind: 'transient', code: error instanceof Error ? error.name : 'unknown' };
}

export function transient(failure: StripeFailure, operation: string): TransientPaymentError {
  return new TransientPaymentError(
    `Stripe ${operation} failed transiently (${failure.code})`,
    failure.code,
    failure.kind === 'transient' && failure.replayed === true,
  );
}

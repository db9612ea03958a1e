// Stripe-shaped API errors. The SDK picks its error class from the HTTP status (400/404 → invalid request
// or idempotency, 401 → authentication, 402 → card, 409 → retried, ≥ 500 → api error), and copies the
// `error` object's fields onto the thrown error, so both must match what Stripe sends.

export interface StripeErrorBody {
  type: string;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: unknown;
  request_log_url?: string;
  [extra: string]: unknown;
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    /**
     * Whether an idempotency key records this answer. Stripe saves a result only once the endpoint started
     * executing: parameter validation failures are not saved (a corrected retry with the same key runs), while
     * declines and state errors are replayed like successes.
     */
    readonly storeIdempotent: boolean,
  ) {
    super(body.message);
    this.name = 'StripeApiError';
  }
}

const DOCS = 'https://docs.stripe.com/error-codes';

export function invalidParam(param: string, message: string, code = 'parameter_invalid'): StripeApiError {
  return new StripeApiError(
    400,
    { type: 'invalid_request_error', code, param, message, doc_url: `${DOCS}/${code.replace(/_/g, '-')}` },
    false,
  );
}

export function missingParam(param: string): StripeApiError {
  return invalidParam(param, `Missing required param: ${param}.`, 'parameter_missing');
}

export function noSuchResource(kind: string, id: string, param = 'id'): StripeApiError {
  return new StripeApiError(
    404,
    {
      type: 'invalid_request_error',
      code: 'resource_missing',
      param,
      message: `No such ${kind}: '${id}'`,
      doc_url: `${DOCS}/resource-missing`,
    },
    false,
  );
}

/** The endpoint ran and refused because of the object's state: saved under the idempotency key. */
export function unexpectedState(message: string, extra: Partial<StripeErrorBody> = {}): StripeApiError {
  return new StripeApiError(
    400,
    {
      type: 'invalid_request_error',
      code: 'payment_intent_unexpected_state',
      message,
      doc_url: `${DOCS}/payment-intent-unexpected-state`,
      ...extra,
    },
    true,
  );
}

export function unrecognizedUrl(method: string, path: string): StripeApiError {
  return new StripeApiError(
    404,
    {
      type: 'invalid_request_error',
      message: `Unrecognized request URL (${method}: ${path}). Please see https://docs.stripe.com/api or we can help at https://support.stripe.com/.`,
    },
    false,
  );
}

export function apiError(status = 500): StripeApiError {
  return new StripeApiError(
    status,
    {
      type: 'api_error',
      message:
        'Sorry, something went wrong. We\u2019ve already been notified of the problem, but if you need any help, you can reach us at support.stripe.com/contact.',
    },
    false,
  );
}

export function missingApiKey(): StripeApiError {
  return new StripeApiError(
    401,
    {
      type: 'invalid_request_error',
      message:
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    },
    false,
  );
}

export function invalidApiKey(key: string): StripeApiError {
  // Stripe echoes only the tail of a rejected key; never log or return a whole secret.
  const shown = key.length > 12 ? `${key.slice(0, 8)}****${key.slice(-4)}` : '****';
  return new StripeApiError(
    401,
    { type: 'invalid_request_error', code: 'api_key_invalid', message: `Invalid API Key provided: ${shown}` },
    false,
  );
}

export function idempotencyMismatch(
  key: string,
  detail: 'endpoint' | 'parameters',
  was?: string,
): StripeApiError {
  const message =
    detail === 'endpoint'
      ? `Keys for idempotent requests can only be used for the same endpoint they were first used for (${was ?? '?'}). Try using a key other than '${key}' if you meant to execute a different request.`
      : `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`;
  return new StripeApiError(400, { type: 'idempotency_error', message }, false);
}

export function idempotencyKeyInUse(key: string): StripeApiError {
  return new StripeApiError(
    409,
    {
      type: 'invalid_request_error',
      code: 'idempotency_key_in_use',
      message: `There is currently another in-progress request using this Idempotency Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
    },
    false,
  );
}

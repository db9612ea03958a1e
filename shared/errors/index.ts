/**
 * The one error hierarchy of the domain. Every business failure is an EcommerceException subclass that
 * knows its HTTP status and RFC 9457 problem type; `functions/lib/problem.ts` maps them in one place.
 * Messages are written for API clients: never put secrets, PII or SQL in them.
 */
export interface FieldError {
  /** Dotted path of the offending field, prefixed by its location: `body.email`, `query.pageSize`. */
  field: string;
  message: string;
}

export class EcommerceException extends Error {
  readonly status: number = 500;
  /** Short slug, published as `https://errors.ecommerce-api.dev/<type>` in the problem document. */
  readonly type: string = 'internal';
  readonly title: string = 'Internal error';
  /** Extra members for the problem document (RFC 9457 extensions). */
  readonly extensions: Record<string, unknown> = {};
  /** Response headers the error implies (Retry-After, WWW-Authenticate). */
  readonly headers: Record<string, string> = {};

  constructor(message?: string) {
    super(message);
    this.name = new.target.name;
  }
}

function httpError(status: number, type: string, title: string) {
  return class extends EcommerceException {
    override readonly status = status;
    override readonly type = type;
    override readonly title = title;
  };
}

export class ValidationException extends httpError(400, 'validation', 'Invalid request') {
  constructor(
    readonly errors: FieldError[],
    message = 'The request has invalid fields.',
  ) {
    super(message);
    this.extensions.errors = errors;
  }
}
export class BadRequestException extends httpError(400, 'bad-request', 'Bad request') {}
export class UnauthorizedException extends httpError(401, 'unauthorized', 'Unauthorized') {
  constructor(message = 'Authentication is required.') {
    super(message);
    this.headers['WWW-Authenticate'] = 'Bearer';
  }
}
export class ForbiddenException extends httpError(403, 'forbidden', 'Forbidden') {}
export class NotFoundException extends httpError(404, 'not-found', 'Not found') {}
export class ProductNotFoundException extends NotFoundException {
  constructor(message = 'Product not found.') {
    super(message);
  }
}
export class ConflictException extends httpError(409, 'conflict', 'Conflict') {}
export class InsufficientInventoryException extends ConflictException {
  override readonly type = 'insufficient-inventory';
  override readonly title = 'Insufficient inventory';
  constructor(
    readonly productId: string,
    readonly available: number,
    message = 'Not enough stock for this product.',
  ) {
    super(message);
    this.extensions.productId = productId;
    this.extensions.available = available;
  }
}
export class PreconditionFailedException extends httpError(
  412,
  'precondition-failed',
  'Precondition failed',
) {}
export class PayloadTooLargeException extends httpError(413, 'payload-too-large', 'Payload too large') {}
export class UnsupportedMediaTypeException extends httpError(
  415,
  'unsupported-media-type',
  'Unsupported media type',
) {}
export class UnprocessableException extends httpError(422, 'unprocessable', 'Unprocessable request') {}
export class RateLimitedException extends httpError(429, 'rate-limited', 'Too many requests') {
  constructor(
    readonly retryAfterSeconds: number,
    message = 'Too many requests; try again later.',
  ) {
    super(message);
    this.headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}
export class ServiceUnavailableException extends httpError(503, 'unavailable', 'Service unavailable') {}

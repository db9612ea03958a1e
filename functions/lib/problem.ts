import type { HttpResponseInit } from '@azure/functions';
import { DriverException } from '@mikro-orm/core';
import { EcommerceException, ServiceUnavailableException } from '../../shared/errors/index.js';
import type { Logger } from '../../shared/logging/logger.js';
import { ConfigurationError } from '../../shared/config/index.js';
import { QUERY_CANCELED } from '../../shared/db/statement-timeout.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://errors.ecommerce-api.dev/';

/**
 * The one place errors become HTTP. Domain exceptions carry their own status; anything else is a 500
 * whose body says only that something failed and the correlation id to quote — the details go to the
 * log, never to the client.
 */
export function problemResponse(
  error: unknown,
  correlationId: string,
  log: Logger,
  instance?: string,
): HttpResponseInit {
  if (error instanceof EcommerceException) {
    if (error.status >= 500) log.error(`${error.name}: ${error.message}`);
    return problem(
      error.status,
      error.type,
      error.title,
      error.message,
      correlationId,
      instance,
      error.extensions,
      error.headers,
    );
  }
  if (isStatementTimeout(error)) {
    // statement_timeout cancelled a statement (shared/db/statement-timeout.ts): the database is too
    // busy or the request too expensive right now. Nothing was committed (the statement and its
    // transaction failed); the client may retry later. Logged by SQLSTATE only, like every driver error.
    log.warn('statement timed out', describeForLog(error));
    const busy = new ServiceUnavailableException('The request took too long and was cancelled; retry later.');
    return problem(
      busy.status,
      busy.type,
      busy.title,
      busy.message,
      correlationId,
      instance,
      {},
      { 'Retry-After': String(STATEMENT_TIMEOUT_RETRY_AFTER_SECONDS) },
    );
  }
  if (isTransientInfrastructureError(error)) {
    // The database (or another backing service) dropped the connection or refused one: nothing about
    // the request was wrong and the same request may succeed in a moment. 503 + Retry-After tells the
    // client to retry (checkout: with the same Idempotency-Key), where a 500 says "a bug".
    log.warn('backing service unavailable', describeForLog(error));
    const unavailable = new ServiceUnavailableException(
      'A backing service is temporarily unavailable; retry the request.',
    );
    return problem(
      unavailable.status,
      unavailable.type,
      unavailable.title,
      unavailable.message,
      correlationId,
      instance,
      {},
      { 'Retry-After': '1' },
    );
  }
  if (error instanceof ConfigurationError) log.error(`configuration error: ${error.message}`);
  else log.error('unhandled error', describeForLog(error));
  return problem(
    500,
    'internal',
    'Internal error',
    'The request failed unexpectedly.',
    correlationId,
    instance,
  );
}

export function problem(
  status: number,
  type: string,
  title: string,
  detail: string | undefined,
  correlationId: string,
  instance?: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): HttpResponseInit {
  return {
    status,
    headers: {
      'content-type': PROBLEM_CONTENT_TYPE,
      'x-correlation-id': correlationId,
      'cache-control': 'no-store',
      ...headers,
    },
    body: JSON.stringify({
      ...extensions,
      type: TYPE_BASE + type,
      title,
      status,
      ...(detail ? { detail } : {}),
      ...(instance ? { instance } : {}),
      correlationId,
    }),
  };
}

/**
 * What an unexpected error may put in the log. Database errors carry statement text and values (names,
 * emails, hashes), so for them only the class, SQLSTATE and constraint are logged.
 */
/** PostgreSQL connection-class SQLSTATEs (08…, 57P0x shutdowns, too many connections) and socket errors. */
const TRANSIENT_CODES = new Set([
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
]);
/** What pg, knex and the pool say when a connection is lost or none can be had (no SQLSTATE then). */
// knex's "Transaction query already complete": the transaction's connection died under it (our units
// of work never touch a transaction after it ended), so the next statement finds it closed.
const TRANSIENT_MESSAGE =
  /Connection terminated|Connection ended unexpectedly|is not queryable|Timeout acquiring a connection|terminating connection due to|timeout exceeded when trying to connect|Transaction query already complete/i;

function causes(error: unknown): Error[] {
  const out: Error[] = [];
  let current: unknown = error;
  while (current instanceof Error && out.length < 5) {
    out.push(current);
    current = (current as Error & { cause?: unknown }).cause;
  }
  return out;
}

/** Seconds a client is asked to wait after a statement timeout: long enough for a burst to pass. */
const STATEMENT_TIMEOUT_RETRY_AFTER_SECONDS = 2;

/** A statement cancelled with SQLSTATE 57014 (statement_timeout), however the driver wrapped it. */
export function isStatementTimeout(error: unknown): boolean {
  return causes(error).some((e) => (e as Error & { code?: unknown }).code === QUERY_CANCELED);
}

/** A lost or refused connection to a backing service: retrying the same request may well succeed. */
export function isTransientInfrastructureError(error: unknown): boolean {
  return causes(error).some((e) => {
    const code = (e as Error & { code?: unknown }).code;
    return (typeof code === 'string' && TRANSIENT_CODES.has(code)) || TRANSIENT_MESSAGE.test(e.message);
  });
}

export function describeForLog(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  const { code, constraint, table } = error as Error & {
    code?: unknown;
    constraint?: unknown;
    table?: unknown;
  };
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    return `${error.name} sqlstate=${code}${typeof constraint === 'string' ? ` constraint=${constraint}` : ''}${
      typeof table === 'string' ? ` table=${table}` : ''
    }`;
  }
  // A database error without a SQLSTATE (a lost connection): its message is the statement with its
  // values inlined. Keep only the driver's own reason, which follows the statement.
  if (
    error instanceof DriverException ||
    /^\s*(select|insert|update|delete|with|begin|commit)\b/i.test(error.message)
  ) {
    const reason = error.message.split(' - ').pop() ?? '';
    const safe = /^[A-Za-z0-9 ,.:()_=-]{1,160}$/.test(reason.trim()) ? reason.trim() : 'message withheld';
    return `${error.name} (${safe})`;
  }
  return error.stack ?? `${error.name}: ${error.message}`;
}

import type { HttpResponseInit } from '@azure/functions';
import { EcommerceException } from '../../shared/errors/index.js';
import type { Logger } from '../../shared/logging/logger.js';
import { ConfigurationError } from '../../shared/config/index.js';

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
  return error.stack ?? `${error.name}: ${error.message}`;
}

import {
  app,
  type FunctionInput,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import type { RouteConfig, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { z } from 'zod';
import { getSettings } from '../../shared/config/index.js';
import { UnauthorizedException } from '../../shared/errors/index.js';
import { runUnitOfWork, type UnitOfWorkMode } from '../../shared/db/unit-of-work.js';
import type { Logger } from '../../shared/logging/logger.js';
import { registerPath } from '../../shared/schemas/openapi.js';
import { Problem } from '../../shared/schemas/common.js';
import type { DomainContext, Principal } from '../../shared/services/context.js';
import { enforceLimit } from '../../shared/services/rate-limit/limits.js';
import type { RateLimitPolicy } from '../../shared/services/rate-limit/rate-limiter.js';
import { bearerToken, loadPrincipal, requireAdmin, verifyToken } from './auth.js';
import { clientIp } from './client-ip.js';
import { readJsonBody, readRawBody } from './body.js';
import { PROBLEM_CONTENT_TYPE, problemResponse } from './problem.js';
import { resolveTenant } from './tenant.js';
import { validate } from './validate.js';

/**
 * Who may call a route:
 * - `public`: no tenant, no user (health, docs, webhooks);
 * - `tenant`: anyone; the tenant comes from the token, or X-Tenant-ID when anonymous;
 * - `customer`: a valid access token (any role);
 * - `admin`: X-Admin-Token and an access token with the admin role.
 */
export type Access = 'public' | 'tenant' | 'customer' | 'admin';
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

type Infer<T> = T extends z.ZodType ? z.infer<T> : undefined;

export interface RouteContext<P, Q, B> {
  request: HttpRequest;
  invocation: InvocationContext;
  params: P;
  query: Q;
  body: B;
  /** The raw request bytes (only for `rawBody` routes, e.g. signed webhooks). */
  rawBody: Buffer;
  log: Logger;
  correlationId: string;
  clientIp: string;
  /** The invocation's unit of work (absent for `tx: 'none'` and `tx: 'on-demand'` routes). */
  em: EntityManager;
  /**
   * For `tx: 'on-demand'` routes: runs `fn` in a write unit of work (committed when it resolves, rolled
   * back when it throws), for a request the handler found needs the database at all.
   */
  write: <T>(fn: (em: EntityManager) => Promise<T>) => Promise<T>;
  /** Tenant-scoped context for services (absent for `public` routes). */
  domain: DomainContext;
  principal: Principal | undefined;
}

export interface RouteResult {
  status?: number;
  body?: unknown;
  /**
   * The body already serialised as JSON, sent as it is (instead of `body`): a value cached as JSON text
   * need not be parsed only to be serialised again.
   */
  json?: string;
  headers?: Record<string, string>;
  /** Pass-through for non-JSON responses (docs assets, streams). */
  raw?: HttpResponseInit;
  /**
   * Runs after the unit of work committed (e.g. send a queue message about a row the consumer must be
   * able to read). If it throws, the error is mapped like any other; the committed data stays.
   */
  afterCommit?: () => Promise<void>;
}

export interface RouteSpec<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
> {
  name: string;
  method: Method;
  /** Functions route template under the `api` prefix, e.g. `products/{id}`. */
  route: string;
  access: Access;
  tags: string[];
  summary: string;
  description?: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Read the body as bytes without parsing (signature checks need the exact bytes). */
  rawBody?: boolean;
  /**
   * Default: `read` for GET, `write` otherwise; `none` for routes that never touch the database;
   * `on-demand` for public routes whose handler opens a write unit of work only when a request needs
   * one (`ctx.write`), e.g. a webhook acknowledging event types it does not act on.
   */
  tx?: UnitOfWorkMode | 'none' | 'on-demand';
  /**
   * A per-user budget (issue 19), spent once the access token and the request are valid and before the
   * unit of work: a refused request (429) takes no database connection and writes nothing, and an
   * accepted one does not hold its transaction open across the call to Redis.
   */
  rateLimit?: RateLimitPolicy;
  /** Extra request headers to document (e.g. Idempotency-Key, If-Match). */
  headers?: z.ZodObject;
  /** Extra input bindings (e.g. `df.input.durableClient()`), read in the handler via `invocation`. */
  extraInputs?: FunctionInput[];
  responses: Record<number, ResponseConfig>;
  /** Document only: hide from OpenAPI (asset routes). */
  hidden?: boolean;
  handler: (ctx: RouteContext<Infer<P>, Infer<Q>, Infer<B>>) => Promise<RouteResult>;
}

const standardErrors: Record<number, string> = {
  400: 'Invalid request (fields listed in `errors`).',
  401: 'Missing or invalid credentials.',
  403: 'Not allowed.',
  404: 'Not found (or belongs to another tenant).',
  413: 'Body larger than 1 MiB.',
  415: 'Body is not JSON.',
  429: 'Rate limited; see Retry-After.',
  500: 'Unexpected failure; quote the correlationId.',
};

function problemResponseConfig(description: string): ResponseConfig {
  return { description, content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } } };
}

const ACCESS_TEXT: Record<Access, string> = {
  public: '**Access:** anyone; no tenant.',
  tenant:
    '**Access:** anyone. Anonymous callers name the shop with `X-Tenant-ID`; with a bearer token the tenant is the token’s (a different `X-Tenant-ID` is a 403).',
  customer: '**Access:** a customer’s bearer access token; the tenant is the token’s.',
  admin: '**Access:** a bearer access token with the `admin` role **and** the `X-Admin-Token` header.',
};

function openApiPath(route: string): string {
  return '/' + route.replace(/\{\*?([A-Za-z0-9_]+)(:[^}?]+)?\??\}/g, '{$1}');
}

function security(access: Access): RouteConfig['security'] {
  switch (access) {
    case 'public':
      return [];
    case 'tenant':
      return [{ tenant: [] }, { bearer: [] }];
    case 'customer':
      return [{ bearer: [] }];
    case 'admin':
      return [{ bearer: [], adminToken: [] }];
  }
}

function document<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
>(spec: RouteSpec<P, Q, B>): void {
  if (spec.hidden) return;
  const errorCodes = new Set<number>([400, 500]);
  if (spec.access === 'tenant') [403, 404].forEach((c) => errorCodes.add(c));
  if (spec.access === 'customer' || spec.access === 'admin') [401, 403].forEach((c) => errorCodes.add(c));
  if (spec.body || spec.rawBody) [413, 415].forEach((c) => errorCodes.add(c));
  const responses: Record<number, ResponseConfig> = { ...spec.responses };
  for (const code of errorCodes) responses[code] ??= problemResponseConfig(standardErrors[code]!);
  registerPath({
    method: spec.method.toLowerCase() as RouteConfig['method'],
    path: openApiPath(spec.route),
    operationId: spec.name,
    tags: spec.tags,
    summary: spec.summary,
    description: `${spec.description ?? spec.summary + '.'}\n\n${ACCESS_TEXT[spec.access]}`,
    security: security(spec.access),
    request: {
      ...(spec.params ? { params: spec.params as unknown as z.ZodObject } : {}),
      ...(spec.query ? { query: spec.query as unknown as z.ZodObject } : {}),
      ...(spec.headers ? { headers: spec.headers } : {}),
      ...(spec.body
        ? { body: { required: true, content: { 'application/json': { schema: spec.body } } } }
        : {}),
    },
    responses,
  });
}

/** The raw body of routes that do not read one (zero-length, so sharing it is safe). */
const NO_BYTES = Buffer.alloc(0);

function queryObject(request: HttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  // A repeated parameter is ambiguous; the first wins, so `?pageSize=1&pageSize=1000` cannot smuggle.
  for (const [key, value] of request.query.entries()) if (!(key in out)) out[key] = value;
  return out;
}

function toResponse(result: RouteResult, correlationId: string): HttpResponseInit {
  if (result.raw) {
    return {
      ...result.raw,
      headers: { 'x-correlation-id': correlationId, ...(result.raw.headers as Record<string, string>) },
    };
  }
  const headers: Record<string, string> = { 'x-correlation-id': correlationId, ...result.headers };
  if (result.body === undefined && result.json === undefined)
    return { status: result.status ?? 204, headers };
  if (
    result.headers === undefined ||
    !Object.keys(result.headers).some((name) => name.toLowerCase() === 'content-type')
  ) {
    headers['content-type'] = 'application/json';
  }
  return { status: result.status ?? 200, headers, body: result.json ?? JSON.stringify(result.body) };
}

/**
 * Declares an HTTP function: validation, authentication, tenant scoping, the unit of work and error
 * mapping happen here once, so the handler is only "call the domain, shape the answer". The route is
 * added to the OpenAPI document from the same schemas.
 */
export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(
  spec: RouteSpec<P, Q, B>,
): (request: HttpRequest, invocation: InvocationContext) => Promise<HttpResponseInit> {
  document(spec);
  if ((spec.tx === 'none' || spec.tx === 'on-demand') && spec.access !== 'public')
    throw new Error(`${spec.name}: tx '${spec.tx}' needs public access`);
  const mode = spec.tx ?? (spec.method === 'GET' ? 'read' : 'write');

  const handler = async (request: HttpRequest, invocation: InvocationContext): Promise<HttpResponseInit> => {
    const correlationId = invocation.invocationId;
    const log: Logger = invocation;
    try {
      const params = spec.params ? validate(spec.params, request.params, 'path') : undefined;
      const query = spec.query ? validate(spec.query, queryObject(request), 'query') : undefined;
      let rawBody: Buffer = NO_BYTES;
      let body: unknown;
      // Credentials are checked before the body is read: an anonymous caller of a protected route gets
      // its 401 without us buffering a megabyte or taking a database connection.
      const token = spec.access === 'public' ? undefined : bearerToken(request);
      const claims = token === undefined ? undefined : await verifyToken(token);
      if ((spec.access === 'customer' || spec.access === 'admin') && !claims)
        throw new UnauthorizedException();
      if (spec.rawBody) rawBody = await readRawBody(request);
      else if (spec.body) body = validate(spec.body, await readJsonBody(request), 'body');

      if (spec.rateLimit) {
        if (!claims) throw new Error(`${spec.name}: a per-user rate limit needs an authenticated route`);
        await enforceLimit(spec.rateLimit, claims.userId, log);
      }

      const run = async (em: EntityManager): Promise<RouteResult> => {
        let principal: Principal | undefined;
        let tenantId = '';
        if (spec.access !== 'public') {
          principal = claims ? await loadPrincipal(claims, em) : undefined;
          if (spec.access === 'admin') principal = await requireAdmin(request, principal);
          tenantId = await resolveTenant(request, principal, em);
        }
        const domain: DomainContext = {
          em,
          tenantId,
          log,
          correlationId,
          ...(principal ? { principal } : {}),
        };
        return spec.handler({
          request,
          invocation,
          params: params as Infer<P>,
          query: query as Infer<Q>,
          body: body as Infer<B>,
          rawBody,
          log,
          correlationId,
          clientIp: clientIp(request, getSettings().TRUSTED_PROXY_HOPS),
          em,
          domain,
          principal,
          write: (fn) => {
            if (mode !== 'on-demand') throw new Error(`${spec.name}: ctx.write is for tx 'on-demand' routes`);
            return runUnitOfWork('write', fn);
          },
        });
      };
      // `none` and `on-demand` routes are public and never read `em` or `domain`.
      const result =
        mode === 'none' || mode === 'on-demand'
          ? await run(undefined as unknown as EntityManager)
          : await runUnitOfWork(mode, run);
      if (result.afterCommit) await result.afterCommit();
      return toResponse(result, correlationId);
    } catch (error) {
      // Only errors name the path (`instance`): parsing the URL for every request is wasted work.
      return problemResponse(error, correlationId, log, new URL(request.url).pathname);
    }
  };

  app.http(spec.name, {
    methods: [spec.method],
    route: spec.route,
    authLevel: 'anonymous',
    ...(spec.extraInputs ? { extraInputs: spec.extraInputs } : {}),
    handler,
  });
  return handler;
}

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createHttpRequest,
  discardRest,
  PayloadTooLargeError,
  readBody,
  writeHttpResponse,
  writePlain,
} from './http-io.js';
import {
  collectOutputs,
  createInvocationContext,
  httpOutputName,
  invokeWithHooks,
  type InputProvider,
} from './invocation.js';
import { safeErrorReport } from './durable/errors.js';
import { logs } from './log.js';
import type { OutputDispatcher } from './outputs.js';
import { sendProblem } from './problem.js';
import { authorized } from './keys.js';
import { effectiveRoute } from './route-validation.js';
import { RouteTable } from './routing.js';
import type { HostLogger, RegisteredFunction } from './types.js';

/** The Functions host's default request body limit (ScriptConstants.DefaultMaxRequestBodySize). */
export const DEFAULT_BODY_LIMIT = 104_857_600;

/** Routes the host serves itself (durable webhooks, admin), ahead of the function routes. */
export interface SystemRoute {
  /** Lower-case; matched case-insensitively, like the host's own routes. */
  prefix: string;
  /** Keys that open this route (`x-functions-key` or `code=`); anything else gets a bare 401. */
  keys: readonly string[];
  handle(method: string, url: URL, body: Buffer, res: ServerResponse): Promise<void>;
}

export interface HttpHostOptions {
  hostname: string;
  port: number;
  routePrefix: string;
  bodyLimit: number;
  logger: HostLogger;
}

export interface FunctionRouting {
  functions: RegisteredFunction[];
  inputs: InputProvider;
  dispatchOutputs: OutputDispatcher;
  systemRoutes: SystemRoute[];
  /**
   * Keys that open a function whose authLevel is `function` or `admin`. Locally only the master key
   * exists (no function keys), and the host accepts it at every level.
   */
  functionKeys: readonly string[];
}

const EMPTY_BODY = Buffer.alloc(0);
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const CLOSING: Record<string, string> = Object.freeze({ connection: 'close' }) as Record<string, string>;

function hasNoBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

/** A Host header that can only be a host name or address and a port. */
const PLAIN_HOST = /^[A-Za-z0-9.:[\]-]+$/;
/** After a leading `/`, these would make the target scheme-relative (`//host`; tabs and newlines are dropped). */
const AUTHORITY_START = new Set(['/', '\\', '\t', '\r', '\n']);

/**
 * The request target resolved against `http://<Host header>` (or `fallbackHost` when that fails). For
 * the usual target — a path that cannot be read as `//authority` (its second character is none of
 * `/ \ TAB CR LF`) — and a plain Host header, `origin + target` parses to exactly that URL in one
 * parse instead of two (base, then target): measurable on every request.
 */
export function requestUrl(req: Pick<IncomingMessage, 'url' | 'headers'>, fallbackHost: string): URL {
  const target = req.url ?? '/';
  const host = req.headers.host ?? fallbackHost;
  try {
    if (target.startsWith('/') && !AUTHORITY_START.has(target.charAt(1)) && PLAIN_HOST.test(host))
      return new URL(`http://${host}${target}`);
    return new URL(target, `http://${host}`);
  } catch {
    return new URL(target, `http://${fallbackHost}`);
  }
}

/**
 * A target the URL parser would give back exactly as it is: a path (and query) of characters that are
 * neither percent-encoded nor rewritten in an http URL (no `%`, backslash, quote, space or fragment), and
 * no dot segment to resolve (checked apart).
 */
const VERBATIM_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/?]*)?$/;
const DOT_SEGMENT = /\/\.{1,2}(?:[/?]|$)/;
/**
 * A Host the URL parser would give back exactly as it is: a lower-case ASCII name whose last label
 * starts with a letter (so it is not read as an IPv4 address; no `xn--` label, checked apart), or a
 * dotted quad in canonical form; an optional port without leading zeros (80, the default, is dropped
 * by the parser, so it is left to it).
 */
const VERBATIM_HOST =
  /^(?:(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*|(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(?::([1-9]\d{0,4}))?$/;

function verbatimHost(host: string): boolean {
  const match = VERBATIM_HOST.exec(host);
  if (!match || host.includes('xn--')) return false;
  const port = match[1];
  return port === undefined || (port !== '80' && Number(port) <= 65_535);
}

export interface RequestTarget {
  /** What `requestUrl(...).href` is. */
  href: string;
  /** What `requestUrl(...).pathname` is. */
  pathname: string;
}

/**
 * `requestUrl`'s href and pathname, without parsing a URL when the target and Host header are ones the
 * parser would give back as they are (the usual `/api/…` request): the parse was a measurable part of
 * the host's work on a cached read. Anything else goes through `requestUrl`.
 */
export function requestTarget(
  req: Pick<IncomingMessage, 'url' | 'headers'>,
  fallbackHost: string,
): RequestTarget {
  const target = req.url ?? '/';
  const host = req.headers.host ?? fallbackHost;
  if (
    VERBATIM_TARGET.test(target) &&
    !AUTHORITY_START.has(target.charAt(1)) &&
    !DOT_SEGMENT.test(target) &&
    verbatimHost(host)
  ) {
    const query = target.indexOf('?');
    return { href: `http://${host}${target}`, pathname: query < 0 ? target : target.slice(0, query) };
  }
  const url = requestUrl(req, fallbackHost);
  return { href: url.href, pathname: url.pathname };
}

/**
 * `pathname` is `prefix` or below it, compared case-insensitively (`prefix` is lower-case). With
 * `open`, `prefix` ends in `/` and is matched as it is (`/admin/` covers `/admin/x`).
 */
function underPrefix(pathname: string, prefix: string, open = false): boolean {
  if (pathname.length < prefix.length) return false;
  if (!open && pathname.length > prefix.length && pathname.charCodeAt(prefix.length) !== 0x2f /* / */)
    return false;
  const head = pathname.slice(0, prefix.length);
  return head === prefix || head.toLowerCase() === prefix;
}

/**
 * What the Functions host answers when no route matches: ASP.NET Core's end of pipeline, a 404 with an
 * empty body and no Content-Type (azure-functions-host `FunctionInvocationMiddleware` falls through
 * to `next` when no function route matched).
 */
function notFound(res: ServerResponse): void {
  bareStatus(res, 404);
}

/** A status with an empty body and no Content-Type, as ASP.NET Core writes a bare StatusCodeResult. */
export function bareStatus(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-length': '0' }).end();
}

/** `::ffff:127.0.0.1` → `127.0.0.1`: the form the app compares against. */
function peerAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * The HTTP side of the host. It listens first (so port 0 resolves and embedded services can be given the
 * real URL) and answers 503 until the functions are activated. Shutdown is two-phase: drain (new
 * function requests get 503 + `Connection: close`, in-flight ones finish, the durable webhooks stay
 * up because in-flight handlers may still call them), then close.
 */
export class HttpHost {
  readonly server: http.Server;
  #options: HttpHostOptions;
  #routing: (FunctionRouting & { routes: RouteTable<RegisteredFunction> }) | undefined;
  /** Requests being handled; `drain` waits for this to reach zero (a count: no promise per request). */
  #inFlight = 0;
  #onIdle: (() => void)[] = [];
  #draining = false;
  #port = 0;
  /** The Host assumed when a request's Host header is missing or unusable. */
  #fallbackHost = '127.0.0.1:0';
  /** `/api` (or '' without a prefix), lower-cased like the paths it is compared with. */
  #prefix: string;
  /** Whether the logger shows the per-invocation lines: when it does not, they are not even built. */
  #logInvocations: boolean;

  constructor(options: HttpHostOptions) {
    this.#options = options;
    this.#prefix = options.routePrefix ? `/${options.routePrefix}`.toLowerCase() : '';
    this.#logInvocations = logs(options.logger, 'info');
    this.server = http.createServer((req, res) => {
      this.#inFlight++;
      this.#handle(req, res).then(this.#finished, (error: unknown) => {
        try {
          // The safe report: an error's message can quote SQL with its values, or a caller's input.
          this.#options.logger.error(`HTTP request failed: ${safeErrorReport(error)}`);
          if (!res.headersSent) bareStatus(res, 500);
          else res.destroy();
        } finally {
          this.#finished();
        }
      });
    });
    // Large request bodies are refused early; slow clients should not hold a connection forever.
    this.server.requestTimeout = 5 * 60_000;
  }

  #finished = (): void => {
    if (--this.#inFlight === 0 && this.#onIdle.length > 0) for (const wake of this.#onIdle.splice(0)) wake();
  };

  get port(): number {
    return this.#port;
  }

  /** The origin clients use (loopback when bound to every interface). */
  get origin(): string {
    const host = ['0.0.0.0', '::'].includes(this.#options.hostname) ? '127.0.0.1' : this.#options.hostname;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.#port}`;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE'
            ? new Error(
                `Port ${this.#options.port} is already in use: set PORT, or --port 0 for a free one`,
                {
                  cause: error,
                },
              )
            : error,
        ),
      );
      this.server.listen(this.#options.port, this.#options.hostname, () => {
        this.server.removeAllListeners('error');
        this.server.on('error', (error) =>
          this.#options.logger.error(`HTTP server error: ${safeErrorReport(error)}`),
        );
        resolve();
      });
    });
    this.#port = (this.server.address() as AddressInfo).port;
    this.#fallbackHost = `127.0.0.1:${this.#port}`;
    return this.#port;
  }

  /** Builds the route table (a template or constraint error stops the start, like the real host). */
  activate(routing: FunctionRouting): RouteTable<RegisteredFunction> {
    const routes = new RouteTable<RegisteredFunction>();
    for (const fn of routing.functions) {
      const route = effectiveRoute(fn);
      const methods = Array.isArray(fn.trigger.methods) ? (fn.trigger.methods as string[]) : undefined;
      try {
        routes.add(route, methods, fn);
      } catch (error) {
        throw new Error(`Function ${fn.name}: invalid route "${route}": ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    this.#routing = { ...routing, routes };
    return routes;
  }

  /** Phase 1: refuse new function requests; resolves when in-flight requests are done (or the timeout). */
  async drain(timeoutMs: number): Promise<boolean> {
    this.#draining = true;
    this.server.closeIdleConnections();
    if (this.#inFlight > 0)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#onIdle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    return this.#inFlight === 0;
  }

  /** Phase 2: stop listening and cut the remaining connections. */
  async close(): Promise<void> {
    this.#draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const fallbackHost = this.#fallbackHost;
    const target = requestTarget(req, fallbackHost);
    const pathname = target.pathname;
    const system = this.#routing?.systemRoutes.find((r) => underPrefix(pathname, r.prefix, true));
    if (this.#draining && !system) {
      res.setHeader('connection', 'close');
      return sendProblem(res, {
        status: 503,
        title: 'Service Unavailable',
        detail: 'The host is shutting down.',
        headers: { 'retry-after': '5' },
      });
    }
    if (!this.#routing)
      return sendProblem(res, {
        status: 503,
        title: 'Service Unavailable',
        detail: 'The host is starting.',
        headers: { 'retry-after': '1' },
      });
    if (!this.#checkLength(req, res)) return;

    if (system) {
      const url = requestUrl(req, fallbackHost);
      // Authorization runs before the body is read, as the host's authentication middleware does.
      if (!authorized(url, req.headers, system.keys)) {
        discardRest(req, this.#options.bodyLimit);
        return bareStatus(res, 401);
      }
      const body = await this.#body(req, res);
      if (body) await system.handle(method, url, body, res);
      return;
    }

    const prefix = this.#prefix;
    if (prefix && !underPrefix(pathname, prefix)) return notFound(res);
    const match = this.#routing.routes.match(method, pathname.slice(prefix.length));
    // The host maps each function's methods as a route constraint (HttpMethodRouteConstraint), so a
    // path served for other methods does not match either: a bare 404, never a 405.
    if (match.kind !== 'match') return notFound(res);

    // A request without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3): no need to
    // wait for the stream's end (Node discards the empty stream when the response finishes).
    const body = hasNoBody(req) ? EMPTY_BODY : await this.#body(req, res);
    if (!body) return;
    const fn = match.target;
    // As the host's FunctionInvocationMiddleware: a key-protected function without a valid key is a
    // bare 401 and never runs (@azure/functions defaults authLevel to anonymous).
    const level = fn.trigger.authLevel;
    if (
      typeof level === 'string' &&
      level.toLowerCase() !== 'anonymous' &&
      !authorized(new URL(target.href), req.headers, this.#routing.functionKeys)
    )
      return bareStatus(res, 401);
    // Like App Service's front end, the host states the peer address itself and overwrites any
    // client-supplied value; X-Forwarded-For passes through untouched for the app's own proxy logic.
    const request = createHttpRequest({
      method,
      url: target.href,
      rawHeaders: req.rawHeaders,
      hostHeaders: { 'x-client-ip': peerAddress(req) },
      params: match.params,
      body,
    });
    const context = createInvocationContext(fn, this.#options.logger, this.#routing.inputs);
    if (this.#logInvocations)
      this.#options.logger.info(
        `Executing 'Functions.${fn.name}' (Reason='${method} ${pathname}', Id=${context.invocationId})`,
      );
    let result: unknown;
    try {
      result = await invokeWithHooks(fn, [request], context);
      const outputName = httpOutputName(fn);
      if (outputName && outputName !== '$return') result = context.extraOutputs.get(outputName);
      const outputs = collectOutputs(fn, context, result);
      if (outputs.length > 0) await this.#routing.dispatchOutputs(fn.name, outputs);
    } catch (error) {
      this.#options.logger.error(
        `Executed 'Functions.${fn.name}' (Failed, Id=${context.invocationId}, Duration=${Date.now() - started}ms): ${safeErrorReport(error)}`,
      );
      // The host's ExceptionMiddleware sets 500 and writes nothing: the invocation id is in the log only.
      return bareStatus(res, 500);
    }
    const closing = this.#draining ? CLOSING : NO_HEADERS;
    try {
      // The plain case is written at once; only other shapes need the asynchronous writer.
      if (!writePlain(res, result, method, closing)) await writeHttpResponse(res, result, method, closing);
    } catch (error) {
      // A client that hangs up mid-stream is routine; anything else is the function's response failing.
      if ((error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE')
        this.#options.logger.debug(`Functions.${fn.name}: the client left before the response was sent`);
      else
        this.#options.logger.error(
          `Functions.${fn.name}: could not send the response: ${safeErrorReport(error)}`,
        );
      if (!res.headersSent) bareStatus(res, 500);
      else res.destroy();
      return;
    }
    if (this.#logInvocations)
      this.#options.logger.info(
        `Executed 'Functions.${fn.name}' (Succeeded, Id=${context.invocationId}, Duration=${Date.now() - started}ms, Status=${res.statusCode})`,
      );
  }

  /** Refuses a declared oversized body before reading it. */
  #checkLength(req: IncomingMessage, res: ServerResponse): boolean {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (Number.isFinite(declared) && declared > this.#options.bodyLimit) {
      this.#tooLarge(req, res);
      return false;
    }
    return true;
  }

  async #body(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
    try {
      return await readBody(req, this.#options.bodyLimit);
    } catch (error) {
      if (error instanceof PayloadTooLargeError) {
        this.#tooLarge(req, res);
        return undefined;
      }
      throw error;
    }
  }

  #tooLarge(req: IncomingMessage, res: ServerResponse): void {
    // Kestrel refuses the body (BadHttpRequestException) before any function runs; nothing is written.
    res.writeHead(413, { connection: 'close', 'content-length': '0' }).end();
    discardRest(req, this.#options.bodyLimit * 8);
  }
}

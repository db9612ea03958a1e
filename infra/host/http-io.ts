import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  HttpRequest,
  HttpResponse,
  type Cookie,
  type HttpRequestInit,
  type HttpResponseInit,
} from '@azure/functions';

export class PayloadTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`Request body larger than ${limit} bytes`);
  }
}

/**
 * Reads the whole body, failing as soon as it passes `limit` (the handler never sees such a request).
 * Event listeners rather than `for await`: leaving an async iterator early destroys the socket, and the
 * client would get a reset instead of the 413.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      if (req.complete) return;
      cleanup();
      reject(new Error('The client closed the connection before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * After an early 413 the client may still be sending: read (and drop) a bounded amount so it gets to see
 * the answer instead of a connection reset, then cut the connection.
 */
export function discardRest(req: IncomingMessage, maxBytes: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) req.destroy();
  });
  req.resume();
}

/** Header values as one string each, the shape HttpRequest's constructor takes (repeats joined). */
export function flattenHeaders(req: Pick<IncomingMessage, 'rawHeaders'>): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    // Own keys only: a header named like an Object.prototype member (`constructor`) is a header too.
    if (Object.hasOwn(out, name)) out[name] += name === 'cookie' ? `; ${value}` : `, ${value}`;
    else out[name] = value;
  }
  return out;
}

export interface RequestInit {
  method: string;
  url: string;
  /** Node's `rawHeaders`: name, value, name, value… as received. */
  rawHeaders: readonly string[];
  /**
   * Headers the host states itself, replacing any the client sent under these (lower-case) names:
   * like App Service's front end, the peer address goes in as `x-client-ip`.
   */
  hostHeaders: Record<string, string>;
  params: Record<string, string>;
  body: Buffer;
}

/**
 * The request headers as a fetch `Headers`, appended straight from the raw list: a repeated header is
 * joined by the Headers class itself (`, `, or `; ` for Cookie) exactly as flattenHeaders joins it, and
 * Node has already trimmed each value, so this is the Headers a Request would build from the flattened
 * record — without the record.
 */
function requestHeaders(raw: readonly string[], hostHeaders: Record<string, string>): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (!Object.hasOwn(hostHeaders, name.toLowerCase())) headers.append(name, raw[i + 1]!);
  }
  for (const [name, value] of Object.entries(hostHeaders)) headers.set(name, value);
  return headers;
}

/** flattenHeaders over a raw list, with the host's own headers in place of the client's. */
function headerRecord(raw: readonly string[], hostHeaders: Record<string, string>): Record<string, string> {
  const out = flattenHeaders({ rawHeaders: raw as string[] });
  return Object.assign(out, hostHeaders);
}

/** Methods the fetch Request keeps as given (after upper-casing) and accepts with or without a body. */
const DEFERRABLE_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * What an `HttpRequest` wraps in place of a fetch `Request`: the same members HttpRequest reads (url,
 * method, headers, body and its readers, clone), with the `Request` itself built only when the body
 * or a clone is asked for. Building a `Request` (an AbortSignal, URL and header validation) was the
 * largest part of the host's own work on a cached read (CPU profile of `npm run bench catalog --only
 * http`), and a GET handler that reads only headers never needs one.
 *
 * The headers are a real `Headers`, built at once (invalid values fail here, as they did in the
 * Request constructor). `url` is the serialised URL the Request would report (callers
 * pass `URL#href`) and `method` the upper-cased method, which a Request keeps as it is for the
 * methods deferred here.
 */
class DeferredRequest {
  #request: Request | undefined;

  constructor(
    readonly url: string,
    readonly method: string,
    readonly headers: Headers,
    private readonly bytes: Buffer | undefined,
  ) {}

  #real(): Request {
    return (this.#request ??= new Request(this.url, {
      method: this.method,
      headers: this.headers,
      ...(this.bytes ? { body: this.bytes } : {}),
    }));
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.bytes ? this.#real().body : null;
  }

  get bodyUsed(): boolean {
    return this.#request?.bodyUsed ?? false;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#real().arrayBuffer();
  }

  blob(): Promise<Blob> {
    return this.#real().blob();
  }

  formData(): Promise<FormData> {
    return this.#real().formData();
  }

  json(): Promise<unknown> {
    return this.#real().json();
  }

  text(): Promise<string> {
    return this.#real().text();
  }

  /** A real Request with the body teed and the headers as they are now (a handler may have set some). */
  clone(): Request {
    const copy = this.#real().clone();
    for (const name of [...copy.headers.keys()]) copy.headers.delete(name);
    for (const [name, value] of this.headers) copy.headers.append(name, value);
    return copy;
  }
}

/** `+` as space, then percent-decoding that leaves a malformed escape as it is (Uri.UnescapeDataString). */
function unescapeQueryPart(text: string): string {
  const spaced = text.includes('+') ? text.replace(/\+/g, ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Decode the well-formed UTF-8 escapes one run at a time; a broken one stays literal.
    return spaced.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

/**
 * The query as a v4 Node function receives it on Azure. The host parses the query string with ASP.NET
 * Core (`QueryHelpers.ParseNullableQuery` over `QueryStringEnumerable`: pairs split on `&`, a pair
 * without `=` has an empty value, empty pairs are skipped, leading white space of a name is dropped,
 * `+` is a space), into a dictionary whose keys compare case-insensitively (the first spelling is
 * kept); repeated keys become one entry whose values are joined with a comma (`StringValues.ToString`)
 * and sent over gRPC as `nullableQuery` (azure-functions-host
 * `src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs` `ToRpcHttp`; the Node
 * worker announces `UseNullableValueDictionaryForHttp`, so empty values are kept). The library then
 * builds `new URLSearchParams(thatRecord)` (@azure/functions `src/http/HttpRequest.ts`), so
 * `?a=1&a=2&A=3` reads as `get('a') === '1,2,3'` and `getAll('a')` has one element — not what
 * `new URL(url).searchParams` would say (azure-functions-nodejs-library#168).
 */
export function hostQuery(search: string): Record<string, string> {
  const values = new Map<string, { name: string; parts: string[] }>();
  const text = search.startsWith('?') ? search.slice(1) : search;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq).replace(/^\s+/, '');
    const name = unescapeQueryPart(rawName);
    const value = eq < 0 ? '' : unescapeQueryPart(pair.slice(eq + 1));
    const key = name.toLowerCase();
    const entry = values.get(key);
    if (entry) entry.parts.push(value);
    else values.set(key, { name, parts: [value] });
  }
  const out: Record<string, string> = {};
  for (const { name, parts } of values.values()) out[name] = parts.join(',');
  return out;
}

/**
 * A real `HttpRequest`, as the worker builds one: the query from the host's dictionary (`hostQuery`),
 * given to the constructor, which turns it into the URLSearchParams a function reads.
 *
 * The request it wraps is a DeferredRequest — the library's own hook for a native request, which the
 * worker's streaming mode uses to hand over a Request it built itself — except where the Request
 * constructor would act on what it is given: other methods (it refuses some, normalises none of
 * these), and a GET or HEAD with a body (HttpRequest drops the body, with a warning).
 */
export function createHttpRequest(init: RequestInit): HttpRequest {
  const mark = init.url.indexOf('?');
  const query = { query: mark < 0 ? {} : hostQuery(init.url.slice(mark + 1)) };
  const hasBody = init.body.length > 0;
  const bodiless = init.method === 'GET' || init.method === 'HEAD';
  if (!DEFERRABLE_METHODS.has(init.method) || (bodiless && hasBody))
    return new HttpRequest({
      method: init.method,
      url: init.url,
      headers: headerRecord(init.rawHeaders, init.hostHeaders),
      params: init.params,
      ...query,
      ...(hasBody ? { body: { bytes: init.body } } : {}),
    });
  // No `headers` record: with a native request HttpRequest reads the headers from it alone (`clone`
  // takes them from the native request's clone too).
  const withNative: HttpRequestInit & { nativeRequest: DeferredRequest } = {
    method: init.method,
    url: init.url,
    params: init.params,
    ...query,
    nativeRequest: new DeferredRequest(
      init.url,
      init.method,
      requestHeaders(init.rawHeaders, init.hostHeaders),
      hasBody ? init.body : undefined,
    ),
  };
  return new HttpRequest(withNative);
}

function serializeCookie(cookie: Cookie): string {
  let text = `${cookie.name}=${cookie.value}`;
  if (cookie.domain) text += `; Domain=${cookie.domain}`;
  if (cookie.path) text += `; Path=${cookie.path}`;
  if (cookie.expires !== undefined) {
    const expires = typeof cookie.expires === 'number' ? new Date(cookie.expires) : cookie.expires;
    text += `; Expires=${expires.toUTCString()}`;
  }
  if (cookie.maxAge !== undefined) text += `; Max-Age=${cookie.maxAge}`;
  if (cookie.secure) text += '; Secure';
  if (cookie.httpOnly) text += '; HttpOnly';
  if (cookie.sameSite) text += `; SameSite=${cookie.sameSite}`;
  return text;
}

const NULL_BODY = new Set([101, 204, 205, 304]);

function isBufferedBody(init: HttpResponseInit): boolean {
  const body = init.body;
  return (
    init.jsonBody !== undefined ||
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  );
}

/** Normalises a handler's result the way the worker does; anything but an object is an error. */
export function toHttpResponse(result: unknown): { response: HttpResponse; buffered: boolean } {
  if (result === undefined || result === null)
    return { response: new HttpResponse({ status: 204 }), buffered: true };
  if (result instanceof HttpResponse) return { response: result, buffered: false };
  if (typeof result !== 'object')
    throw new TypeError(
      'The HTTP response must be an object with optional properties "body", "status", "headers", and "cookies".',
    );
  const init = result as HttpResponseInit;
  return { response: new HttpResponse(init), buffered: isBufferedBody(init) };
}

/**
 * The common case — a plain `{ status, headers, body }` object with a string or byte body — written
 * straight to the socket, synchronously; false (nothing written) for anything else. Building an
 * HttpResponse only to read its body back costs more than the handler of a cached read (measured with
 * `npm run bench catalog`).
 */
export function writePlain(
  res: ServerResponse,
  result: unknown,
  method: string,
  extraHeaders: Record<string, string>,
): boolean {
  if (result === null || typeof result !== 'object' || result instanceof HttpResponse) return false;
  const init = result as HttpResponseInit;
  if (init.jsonBody !== undefined || (init.cookies !== undefined && init.cookies.length > 0)) return false;
  const body = init.body;
  if (!(body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array))
    return false;
  const given = init.headers;
  if (
    given !== undefined &&
    (given === null || typeof given !== 'object' || Array.isArray(given) || given instanceof Headers)
  )
    return false;
  const status = init.status ?? 200;
  const headers: Record<string, string> = {};
  if (given) {
    const record = given as Record<string, string>;
    for (const key of Object.keys(record)) {
      const name = key.toLowerCase();
      if (name === 'set-cookie') return false;
      headers[name] = String(record[key]);
    }
  }
  Object.assign(headers, extraHeaders);
  const nullBody = NULL_BODY.has(status);
  // A string goes out as it is (UTF-8): Node then writes the head and the body in one piece, with no
  // copy into a Buffer first.
  const payload = nullBody || body === undefined || body === null ? undefined : body;
  if (nullBody) delete headers['content-length'];
  else {
    headers['content-length'] = String(
      payload === undefined ? 0 : typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length,
    );
    if (typeof payload === 'string' && headers['content-type'] === undefined)
      headers['content-type'] = 'text/plain;charset=UTF-8';
  }
  res.writeHead(status, headers);
  res.end(method === 'HEAD' ? undefined : payload);
  return true;
}

/**
 * Sends the response. Small bodies go out with a Content-Length; streams (a ReadableStream, an async
 * iterable, a Node stream) are piped chunk by chunk with backpressure and stop when the client leaves.
 */
export async function writeHttpResponse(
  res: ServerResponse,
  result: unknown,
  method: string,
  extraHeaders: Record<string, string> = {},
): Promise<void> {
  if (writePlain(res, result, method, extraHeaders)) return;
  const { response, buffered } = toHttpResponse(result);
  const headers: Record<string, string | string[]> = {};
  for (const [key, value] of response.headers.entries()) if (key !== 'set-cookie') headers[key] = value;
  const setCookies = [...response.headers.getSetCookie(), ...response.cookies.map(serializeCookie)];
  if (setCookies.length > 0) headers['set-cookie'] = setCookies;
  Object.assign(headers, extraHeaders);
  const status = response.status;
  const nullBody = NULL_BODY.has(status);

  if (buffered || nullBody) {
    const bytes = nullBody || !response.body ? Buffer.alloc(0) : Buffer.from(await response.arrayBuffer());
    if (nullBody) delete headers['content-length'];
    else headers['content-length'] = String(bytes.length);
    res.writeHead(status, headers);
    res.end(method === 'HEAD' || nullBody ? undefined : bytes);
    return;
  }
  if (method === 'HEAD') {
    // No body to send, and no reason to produce one.
    await response.body?.cancel();
    res.writeHead(status, headers);
    res.end();
    return;
  }
  delete headers['content-length'];
  res.writeHead(status, headers);
  const body = response.body;
  if (!body) {
    res.end();
    return;
  }
  // The client may disconnect mid-stream: pipeline then destroys the source so the producer stops too.
  await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), res);
}

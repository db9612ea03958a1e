import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { HttpRequest, HttpResponse, type Cookie, type HttpResponseInit } from '@azure/functions';

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
export function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name in out) out[name] += name === 'cookie' ? `; ${value}` : `, ${value}`;
    else out[name] = value;
  }
  return out;
}

export interface RequestInit {
  method: string;
  url: string;
  headers: Record<string, string>;
  params: Record<string, string>;
  body: Buffer;
}

/**
 * A real `HttpRequest` through its public constructor, as the worker builds one. Without a query string
 * it is given the (empty) query directly; otherwise it reads the query from the URL itself, which keeps
 * repeated parameters (the constructor's `query` map cannot). Either way `request.query` is an empty or
 * the URL's URLSearchParams; the shortcut only spares re-parsing the URL on every request.
 */
export function createHttpRequest(init: RequestInit): HttpRequest {
  return new HttpRequest({
    method: init.method,
    url: init.url,
    headers: init.headers,
    params: init.params,
    ...(init.url.includes('?') ? {} : { query: {} }),
    ...(init.body.length > 0 ? { body: { bytes: init.body } } : {}),
  });
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
  for (const [key, value] of Object.entries((given ?? {}) as Record<string, string>)) {
    const name = key.toLowerCase();
    if (name === 'set-cookie') return false;
    headers[name] = String(value);
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

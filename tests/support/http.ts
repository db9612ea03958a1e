import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { randomUUID } from 'node:crypto';

export interface InvokeOptions {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  rawBody?: string | Buffer;
}

export interface InvokeResult {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export const logs: string[] = [];

/** Calls a function handler directly with real HttpRequest/InvocationContext objects. */
export async function invoke(
  handler: (req: HttpRequest, ctx: InvocationContext) => Promise<HttpResponseInit>,
  options: InvokeOptions = {},
): Promise<InvokeResult> {
  const url = new URL(options.url ?? 'http://localhost/api/test');
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { ...options.headers };
  let body: { string: string } | { bytes: Uint8Array } | undefined;
  if (options.rawBody !== undefined) {
    body =
      typeof options.rawBody === 'string'
        ? { string: options.rawBody }
        : { bytes: new Uint8Array(options.rawBody) };
  } else if (options.body !== undefined) {
    body = { string: JSON.stringify(options.body) };
    headers['content-type'] ??= 'application/json';
  }
  const request = new HttpRequest({
    method: options.method ?? 'GET',
    url: url.toString(),
    headers,
    params: options.params ?? {},
    ...(body ? { body } : {}),
  });
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: 'test',
    logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
  });
  const response = await handler(request, context);
  const responseHeaders = new Headers(response.headers as Record<string, string>);
  let text = '';
  if (typeof response.body === 'string') text = response.body;
  else if (response.body instanceof Uint8Array) text = Buffer.from(response.body).toString('utf8');
  else if (response.body !== undefined && response.body !== null)
    text = await new Response(response.body as ConstructorParameters<typeof Response>[0]).text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status ?? 200, headers: responseHeaders, text, json };
}

import net from 'node:net';

/**
 * HTTP/1.1 over a bare socket: the request goes out byte for byte as given — un-normalised paths
 * (`/api/products/../../etc/passwd`), duplicated headers, raw (non-UTF-8) header and body bytes, a
 * Content-Length that lies — which fetch and http.request would refuse or rewrite.
 */
export interface RawRequest {
  method: string;
  /** Sent verbatim as the request target. */
  target: string;
  /** In order; a name may repeat. Values may be Buffers (raw bytes). */
  headers: [string, string | Buffer][];
  body?: Buffer;
  /** Leave out the Content-Length header that is otherwise added for a body. */
  omitContentLength?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** What went wrong at the transport level, if the server hung up without an answer. */
  transportError?: string;
}

function decodeChunked(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < data.length) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

function parseResponse(raw: Buffer): RawResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) return { status: 0, headers: {}, body: raw, transportError: 'incomplete response head' };
  const head = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = raw.subarray(headEnd + 4);
  if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) body = decodeChunked(body);
  else if (headers['content-length'] !== undefined)
    body = body.subarray(0, Number(headers['content-length']));
  return { status, headers, body };
}

/** Sends one request on a fresh connection (`Connection: close`) and reads the whole answer. */
export function rawRequest(port: number, request: RawRequest, timeoutMs = 30_000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (transportError?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks);
      if (raw.length === 0) {
        resolve({ status: 0, headers: {}, body: raw, transportError: transportError ?? 'no response' });
        return;
      }
      resolve(parseResponse(raw));
    };
    const timer = setTimeout(() => finish(`no complete answer within ${timeoutMs} ms`), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // A server that answers early (413) and closes while we still write produces EPIPE/ECONNRESET:
    // the answer already received is what counts.
    socket.on('error', (error: Error) => finish(error.message));
    socket.on('connect', () => {
      const lines: Buffer[] = [Buffer.from(`${request.method} ${request.target} HTTP/1.1\r\n`, 'latin1')];
      const names = new Set(request.headers.map(([name]) => name.toLowerCase()));
      const all: [string, string | Buffer][] = [...request.headers];
      if (!names.has('host')) all.unshift(['Host', `127.0.0.1:${port}`]);
      if (!names.has('connection')) all.push(['Connection', 'close']);
      if (request.body && !request.omitContentLength && !names.has('content-length'))
        all.push(['Content-Length', String(request.body.length)]);
      for (const [name, value] of all) {
        lines.push(Buffer.from(`${name}: `, 'latin1'));
        lines.push(typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
        lines.push(Buffer.from('\r\n', 'latin1'));
      }
      lines.push(Buffer.from('\r\n', 'latin1'));
      if (request.body) lines.push(request.body);
      socket.write(Buffer.concat(lines));
    });
  });
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PayloadTooLargeError, readBody } from '../http-io.js';
import type { HostLogger } from '../types.js';
import { safeErrorReport } from './errors.js';
import { WEBHOOK_PREFIX, type DurableApi } from './client-api.js';

const RPC_PREFIX = '/durabletask/';

/**
 * The durable extension's local RPC endpoint: the same API as `/runtime/webhooks/durabletask/…`, on a
 * listener of its own bound to 127.0.0.1 and without keys — what the app's own durable client calls
 * through `rpcBaseUrl` (azure-functions-durable-extension `LocalHttpListener.cs`: port 17071, else a
 * random one in 30000–31000; ours takes any free port so several hosts can run side by side).
 */
export class DurableRpcListener {
  readonly #server: http.Server;
  #port = 0;

  constructor(api: DurableApi, bodyLimit: number, logger: HostLogger) {
    this.#server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (!url.pathname.startsWith(RPC_PREFIX)) {
        res.writeHead(404, { 'content-length': '0' }).end();
        return;
      }
      // The API reads its path below the webhook prefix: hand it the same request under that prefix.
      const rewritten = new URL(
        `${WEBHOOK_PREFIX}${url.pathname.slice(RPC_PREFIX.length)}${url.search}`,
        'http://127.0.0.1',
      );
      readBody(req, bodyLimit)
        .then((body) => api.handle((req.method ?? 'GET').toUpperCase(), rewritten, body, res))
        .catch((error: unknown) => {
          if (!(error instanceof PayloadTooLargeError))
            logger.error(`Durable RPC request failed: ${safeErrorReport(error)}`);
          if (!res.headersSent)
            res.writeHead(error instanceof PayloadTooLargeError ? 413 : 500, { 'content-length': '0' });
          res.end();
        });
    });
  }

  /** Listens on a free loopback port; resolves with the base URL the client binding carries. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    return this.baseUrl;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.#port}${RPC_PREFIX}`;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }
}

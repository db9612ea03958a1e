/**
 * Child process of `npm run bench catalog`: one HTTP server per process, so the server under test has a
 * core of its own while autocannon runs in the parent. Settings come from the environment the parent
 * sets. Prints `READY <port>` once listening; stops on SIGTERM.
 *
 *   host    — the project's local Functions host (infra/host startHost) serving functions/products.js
 *   wrapper — a minimal node:http wrapper calling the same handler with real HttpRequest objects
 *   bare    — node:http doing the cached read's Redis work only: one MGET of generations + value per
 *             batch of concurrent requests (the floor the host is compared with)
 */
import http from 'node:http';
import path from 'node:path';
import { Redis } from 'ioredis';
import { MgetBatcher } from '../../../shared/cache/mget-batch.js';

function ready(port: number, stop: () => Promise<void>): void {
  process.stdout.write(`READY ${port}\n`);
  process.once('SIGTERM', () => {
    void stop().finally(() => process.exit(0));
  });
}

async function host(): Promise<void> {
  const { startHost, silentLogger } = await import('../../../infra/host/index.js');
  const started = await startHost({
    // dist/tests/bench/catalog → the app root (package.json, host.json).
    root: path.join(__dirname, '../../../..'),
    port: 0,
    modules: [path.join(__dirname, '../../../functions/products.js')],
    localSettings: false,
    printFunctions: false,
    embedded: false,
    migrate: false,
    seed: false,
    logger: silentLogger,
  });
  ready(started.port, () => started.stop());
}

async function wrapper(): Promise<void> {
  // Required (CommonJS) rather than imported: under native ESM interop @azure/functions has no named
  // exports, and in host mode it must not be loaded before the host installs its core module.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { HttpRequest, InvocationContext } = require('@azure/functions') as typeof import('@azure/functions');
  const { getProduct } =
    require('../../../functions/products.js') as typeof import('../../../functions/products.js');
  /* eslint-enable @typescript-eslint/no-require-imports */
  let n = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const id = url.pathname.split('/').pop() ?? '';
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const request = new HttpRequest({
      method: req.method ?? 'GET',
      url: url.toString(),
      headers,
      params: { id },
    });
    const context = new InvocationContext({ invocationId: `b-${++n}`, functionName: 'getProduct' });
    getProduct(request, context).then(
      (response) => {
        res.writeHead(response.status ?? 200, response.headers as Record<string, string>);
        res.end(typeof response.body === 'string' ? response.body : '');
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    ready(typeof address === 'object' && address ? address.port : 0, async () => void server.close());
  });
}

/**
 * The floor, doing the Redis work the cached read does and nothing else: concurrent requests share one
 * MGET of the product's generations and its value (the project's MgetBatcher, as GenerationalCache
 * batches), the stamp line is stripped and the stored JSON sent — no tenant check, no routing, no
 * validation, no unit of work.
 */
async function bare(): Promise<void> {
  const keys = JSON.parse(process.env.BENCH_BARE_KEYS!) as string[];
  const redis = new Redis(process.env.REDIS_URL!, { keyPrefix: process.env.REDIS_KEY_PREFIX ?? '' });
  await redis.ping();
  const batcher = new MgetBatcher(redis);
  const server = http.createServer((_req, res) => {
    batcher.mget(keys).then(
      (values) => {
        const stored = values[values.length - 1] ?? '';
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(stored.slice(stored.indexOf('\n') + 1));
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    ready(typeof address === 'object' && address ? address.port : 0, async () => {
      server.close();
      redis.disconnect();
    });
  });
}

const modes: Record<string, () => Promise<void>> = { host, wrapper, bare };
const mode = modes[process.argv[2] ?? ''];
if (!mode) {
  console.error('usage: http-server.js host|wrapper|bare');
  process.exit(2);
}
mode().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

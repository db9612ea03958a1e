import type { ServerResponse } from 'node:http';
import type { FunctionDescription } from './function-table.js';
import { sendProblem } from './problem.js';
import type { LocalServiceBus } from './service-bus/local-bus.js';
import { entityName } from './service-bus/connection.js';
import type { TimerScheduler } from './timers.js';
import type { RegisteredFunction } from './types.js';

export const ADMIN_PREFIX = '/admin/';

export interface AdminDeps {
  functions: () => RegisteredFunction[];
  describe: () => FunctionDescription[];
  timers: TimerScheduler;
  bus: LocalServiceBus | undefined;
  state: () => string;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The slice of the Functions host admin API that is useful locally (as with `func start`):
 * `GET /admin/host/status`, `GET /admin/functions`, and `POST /admin/functions/{name}` with
 * `{ "input": … }` to run a timer function now or drop a message on a queue trigger's queue.
 */
export function createAdminApi(deps: AdminDeps) {
  return {
    async handle(method: string, url: URL, body: Buffer, res: ServerResponse): Promise<void> {
      const path = url.pathname.slice(ADMIN_PREFIX.length).replace(/\/+$/, '');
      if (method === 'GET' && path === 'host/status') return sendJson(res, 200, { state: deps.state() });
      if (method === 'GET' && path === 'functions') return sendJson(res, 200, deps.describe());
      const m = /^functions\/([^/]+)$/.exec(path);
      if (method === 'POST' && m) {
        const name = decodeURIComponent(m[1]!);
        const fn = deps.functions().find((f) => f.name.toLowerCase() === name.toLowerCase());
        if (!fn) return sendProblem(res, { status: 404, title: 'Function not found' });
        let input: unknown;
        try {
          input =
            body.length > 0 ? (JSON.parse(body.toString('utf8')) as { input?: unknown }).input : undefined;
        } catch {
          return sendProblem(res, { status: 400, title: 'Body must be JSON: { "input": … }' });
        }
        const type = fn.trigger.type.toLowerCase();
        if (type === 'timertrigger') {
          void deps.timers.run(fn.name);
          res.writeHead(202, { 'content-length': '0' }).end();
          return;
        }
        if (type === 'servicebustrigger' && deps.bus) {
          deps.bus.send(entityName(fn.trigger) ?? fn.name, { body: input ?? '' });
          res.writeHead(202, { 'content-length': '0' }).end();
          return;
        }
        return sendProblem(res, {
          status: 400,
          title: 'Not invocable',
          detail: `Functions with a ${fn.trigger.type} cannot be run through the admin API here.`,
        });
      }
      return sendProblem(res, { status: 404, title: 'Not Found', instance: url.pathname });
    },
  };
}

import type { ServerResponse } from 'node:http';
import { sendProblem } from '../problem.js';
import type { HostLogger } from '../types.js';
import { isTransientStoreError, safeErrorText } from './errors.js';
import type { DurableEngine, InstanceStatus } from './engine.js';
import type { InstanceFilter, RuntimeStatus } from './store.js';

/**
 * The Durable extension's HTTP API (`/runtime/webhooks/durabletask/…`) over the local engine: what
 * `DurableClient` calls (start, status, raise event, terminate, purge) and what the management URLs in a
 * check-status response point at.
 */

export const WEBHOOK_PREFIX = '/runtime/webhooks/durabletask/';
const ID_PLACEHOLDER = 'INSTANCEID';

/**
 * The client binding data the extension would pass to a `durableClient` input
 * (azure-functions-durable-extension `Bindings/BindingHelper.cs` `DurableOrchestrationClientToString`,
 * `HttpApiHandler.cs` `GetInstanceCreationLinks`/`GetClientResponseLinks`): the public webhook URLs
 * carry the system key (`code=`), and `rpcBaseUrl` is the extension's loopback-only listener
 * (`LocalHttpListener.cs`, `http://127.0.0.1:17071/durabletask/` on Azure), which needs no key.
 * durable-functions 3.5.0 calls `rpcBaseUrl` for every client operation whenever it is set
 * (`lib/src/durableClient/DurableClient.js`); the webhook URLs only reach callers through
 * `createCheckStatusResponse`/`createHttpManagementPayload`.
 */
export function durableClientInput(
  origin: string,
  hub: string,
  systemKey: string,
  rpcBaseUrl: string,
): Record<string, unknown> {
  const base = `${origin}${WEBHOOK_PREFIX}`;
  const code = `code=${encodeURIComponent(systemKey)}`;
  return {
    taskHubName: hub,
    creationUrls: {
      createNewInstancePostUri: `${base}orchestrators/{functionName}[/{instanceId}]?${code}`,
      createAndWaitOnNewInstancePostUri: `${base}orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${code}`,
    },
    managementUrls: managementUrls(base, hub, ID_PLACEHOLDER, systemKey),
    baseUrl: base.slice(0, -1),
    requiredQueryStringParameters: code,
    rpcBaseUrl,
  };
}

function managementUrls(base: string, hub: string, id: string, systemKey: string): Record<string, string> {
  const query = `taskHub=${encodeURIComponent(hub)}&connection=Storage&code=${encodeURIComponent(systemKey)}`;
  const instance = `${base}instances/${id}`;
  return {
    id,
    purgeHistoryDeleteUri: `${instance}?${query}`,
    restartPostUri: `${instance}/restart?${query}`,
    resumePostUri: `${instance}/resume?reason={text}&${query}`,
    rewindPostUri: `${instance}/rewind?reason={text}&${query}`,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}?${query}`,
    statusQueryGetUri: `${instance}?${query}`,
    suspendPostUri: `${instance}/suspend?reason={text}&${query}`,
    terminatePostUri: `${instance}/terminate?reason={text}&${query}`,
  };
}

const STATUSES: readonly RuntimeStatus[] = ['Pending', 'Running', 'Completed', 'Failed', 'Terminated'];

function filterFrom(query: URLSearchParams): InstanceFilter {
  const filter: InstanceFilter = {};
  const statuses = (query.get('runtimeStatus') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const known = statuses.filter((s): s is RuntimeStatus => (STATUSES as string[]).includes(s));
  if (statuses.length > 0) filter.statuses = known.length > 0 ? known : ['__none__' as RuntimeStatus];
  const from = query.get('createdTimeFrom');
  const to = query.get('createdTimeTo');
  if (from && !Number.isNaN(Date.parse(from))) filter.createdFrom = new Date(from);
  if (to && !Number.isNaN(Date.parse(to))) filter.createdTo = new Date(to);
  return filter;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Instance ids become URL path segments and are not encoded by the SDK: keep them to a safe alphabet. */
const VALID_ID = /^[A-Za-z0-9._:~@!$&'()*+,;=-]{1,256}$/;

function inputText(body: Buffer): { ok: true; text: string | undefined } | { ok: false } {
  const text = body.toString('utf8');
  if (text.trim() === '') return { ok: true, text: undefined };
  try {
    JSON.parse(text);
    return { ok: true, text };
  } catch {
    return { ok: false };
  }
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export interface DurableApi {
  handle(method: string, url: URL, body: Buffer, res: ServerResponse): Promise<void>;
}

export function createDurableApi(
  engine: DurableEngine,
  origin: () => string,
  systemKey: string,
  logger?: HostLogger,
): DurableApi {
  const base = (): string => `${origin()}${WEBHOOK_PREFIX}`;
  const problem = (res: ServerResponse, status: number, title: string, detail?: string): void =>
    sendProblem(res, { status, title, ...(detail ? { detail } : {}) });

  const statusCode = (s: InstanceStatus): number =>
    s.runtimeStatus === 'Pending' || s.runtimeStatus === 'Running' ? 202 : 200;

  // The store's errors are answered here, not by the HTTP server's catch-all: a lost connection is
  // a 503 the durable client may retry, and the log names the SQLSTATE, never a statement.
  const failed = (res: ServerResponse, verb: string, error: unknown): void => {
    const transient = isTransientStoreError(error);
    logger?.[transient ? 'warn' : 'error'](
      `Durable API: ${verb} ${WEBHOOK_PREFIX}… failed: ${safeErrorText(error)}`,
    );
    sendProblem(res, {
      status: transient ? 503 : 500,
      title: transient ? 'Service Unavailable' : 'Internal Server Error',
      ...(transient ? { headers: { 'retry-after': '1' } } : {}),
    });
  };

  return {
    async handle(method, url, body, res) {
      try {
        await route(method, url, body, res);
      } catch (error) {
        failed(res, method.toUpperCase(), error);
      }
    },
  };

  async function route(method: string, url: URL, body: Buffer, res: ServerResponse): Promise<void> {
    const rest = url.pathname.slice(WEBHOOK_PREFIX.length);
    const parts = rest
      .split('/')
      .filter((p) => p !== '')
      .map(decode);
    const verb = method.toUpperCase();

    // POST orchestrators/{name}[/{instanceId}]
    if (parts[0] === 'orchestrators' && verb === 'POST' && (parts.length === 2 || parts.length === 3)) {
      const [, name, requestedId] = parts as [string, string, string | undefined];
      if (requestedId !== undefined && !VALID_ID.test(requestedId))
        return problem(res, 400, 'Invalid instance id', 'Use letters, digits and URL-safe punctuation only.');
      const input = inputText(body);
      if (!input.ok) return problem(res, 400, 'Invalid input', 'The orchestration input must be JSON.');
      const result = await engine.startNew(name, requestedId, input.text);
      if (result.outcome === 'unknown-orchestrator')
        return problem(
          res,
          400,
          'Unknown orchestrator',
          `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        );
      if (result.outcome === 'already-running')
        return problem(
          res,
          409,
          'Instance already exists',
          `An instance with ID '${result.instanceId}' already exists and is not finished.`,
        );
      const links = managementUrls(base(), engine.hub, result.instanceId, systemKey);
      return sendJson(res, 202, { ...links, id: result.instanceId }, { location: links.statusQueryGetUri! });
    }

    if (parts[0] !== 'instances') return problem(res, 404, 'Not found', `No durable API at ${url.pathname}`);
    const instanceId = parts[1];

    // GET instances  |  DELETE instances (purge by filter)
    if (instanceId === undefined) {
      if (verb === 'GET')
        return sendJson(
          res,
          200,
          await engine.list(filterFrom(url.searchParams), url.searchParams.get('showInput') !== 'false'),
        );
      if (verb === 'DELETE') {
        const deleted = await engine.purge(filterFrom(url.searchParams));
        return deleted > 0
          ? sendJson(res, 200, { instancesDeleted: deleted })
          : problem(res, 404, 'No instances purged');
      }
      return problem(res, 405, 'Method not allowed');
    }

    const action = parts[2];
    if (action === undefined && verb === 'GET') {
      const status = await engine.status(instanceId, {
        showHistory: url.searchParams.get('showHistory') === 'true',
        showInput: url.searchParams.get('showInput') !== 'false',
      });
      if (!status) return problem(res, 404, 'Instance not found', `No instance with ID '${instanceId}'.`);
      const headers: Record<string, string> =
        statusCode(status) === 202
          ? {
              location: managementUrls(base(), engine.hub, instanceId, systemKey).statusQueryGetUri!,
              'retry-after': '1',
            }
          : {};
      return sendJson(res, statusCode(status), status, headers);
    }
    if (action === undefined && verb === 'DELETE') {
      const existing = await engine.status(instanceId, { showInput: false });
      if (!existing) return problem(res, 404, 'Instance not found');
      if (statusCode(existing) === 202)
        return problem(res, 409, 'Instance is running', 'Only finished instances can be purged.');
      return sendJson(res, 200, { instancesDeleted: await engine.purge({ instanceId }) });
    }
    if (action === 'raiseEvent' && verb === 'POST' && parts[3]) {
      const input = inputText(body);
      if (!input.ok) return problem(res, 400, 'Invalid event data', 'The event data must be JSON.');
      const outcome = await engine.raiseEvent(instanceId, parts[3], input.text);
      if (outcome === 'not-found') return problem(res, 404, 'Instance not found');
      if (outcome === 'gone')
        return problem(res, 410, 'Instance finished', 'The instance is no longer running.');
      res.writeHead(202, { 'content-length': '0' }).end();
      return;
    }
    if (action === 'terminate' && verb === 'POST') {
      const outcome = await engine.terminate(instanceId, url.searchParams.get('reason') ?? undefined);
      if (outcome === 'not-found') return problem(res, 404, 'Instance not found');
      if (outcome === 'gone')
        return problem(res, 410, 'Instance finished', 'The instance is no longer running.');
      res.writeHead(202, { 'content-length': '0' }).end();
      return;
    }
    if (['rewind', 'suspend', 'resume', 'restart'].includes(action ?? ''))
      return problem(res, 501, 'Not implemented', `The local host does not support ${action}.`);
    return problem(res, 404, 'Not found', `No durable API at ${url.pathname}`);
  }
}

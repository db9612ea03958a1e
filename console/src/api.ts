import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from '../../tests/generated/api';

export type Schemas = components['schemas'];
/**
 * The generated type of a nullable address reads `ShippingAddress & (Record<string, never> | null)`,
 * which no address satisfies: an order as the API really sends it.
 */
export type ManagedOrder = Omit<Schemas['ManagedOrder'], 'shippingAddress'> & {
  shippingAddress: Schemas['ShippingAddress'] | null;
};
export type Problem = Schemas['Problem'];
export type ApiClient = Client<paths>;

/** Where the API is: the console is served at <prefix>/console, the API at <prefix>/. */
export function apiBase(location: Location = window.location): string {
  return new URL('.', new URL(location.pathname, location.origin)).href.replace(/\/$/, '');
}

/** What a request needs from the signed-in session; asked before every request. */
export interface Credentials {
  headers(): Promise<Record<string, string>>;
}

/**
 * The same typed client the e2e suite uses (openapi-fetch over tests/generated/api.d.ts, written by
 * `npm run api:generate`): a route or shape the console uses that the API no longer has fails the build.
 */
export function typedClient<P extends object = paths>(credentials?: Credentials): Client<P> {
  const client = createClient<P>({ baseUrl: apiBase() });
  if (credentials) client.use(authenticate(credentials));
  return client;
}

function authenticate(credentials: Credentials): Middleware {
  return {
    async onRequest({ request }) {
      for (const [name, value] of Object.entries(await credentials.headers()))
        request.headers.set(name, value);
      return request;
    },
  };
}

/**
 * The problem+json the API answered, or one describing a failure that never reached it. Shown as
 * written: the API's words are more precise than any message the console could make up.
 */
export function asProblem(error: unknown, response?: Response): Problem {
  if (error && typeof error === 'object' && 'title' in error && 'status' in error) return error as Problem;
  if (response)
    return { type: 'about:blank', title: response.statusText || 'Request failed', status: response.status };
  return {
    type: 'about:blank',
    title: 'The API could not be reached',
    status: 0,
    detail: error instanceof Error ? error.message : undefined,
  };
}

/** The result of an openapi-fetch call as data or a problem, so screens handle both in one place. */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<{ ok: true; data: T; response: Response } | { ok: false; problem: Problem; response?: Response }> {
  try {
    const { data, error, response } = await request;
    if (response.ok) return { ok: true, data: data as T, response };
    return { ok: false, problem: asProblem(error, response), response };
  } catch (error) {
    return { ok: false, problem: asProblem(error) };
  }
}

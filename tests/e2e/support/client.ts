import createClient, { type Client } from 'openapi-fetch';
import type { paths } from '../../generated/api.js';

export type ApiClient = Client<paths>;

/**
 * A client typed from the published OpenAPI document (tests/generated/api.d.ts). The e2e tests drive
 * the API through it, so a drift between the document and the handlers breaks the build or the tests.
 */
export function apiClient(baseUrl: string, headers: Record<string, string> = {}): ApiClient {
  return createClient<paths>({ baseUrl, headers });
}

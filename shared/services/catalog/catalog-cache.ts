import type { Redis } from 'ioredis';
import { getSettings } from '../../config/index.js';
import { GenerationalCache } from '../../cache/cache.js';
import { getRedis } from '../../cache/redis.js';
import type { Logger } from '../../logging/logger.js';
import { silentLogger } from '../../logging/logger.js';

/**
 * The catalog's cache: product details and product list pages, 5 minutes, every key under its tenant.
 *
 * Generations (see GenerationalCache): a detail is valid while the tenant's and the product's
 * generations are unchanged; a list page while the tenant's and the tenant's list generation are.
 * List items carry no stock, so a stock change (checkout, admin) invalidates the product's detail only.
 */
let shared: GenerationalCache | undefined;
let base: Redis | undefined;
let own: Redis | undefined;

/**
 * The catalog's own connection: a duplicate of the app's client (same URL, prefix and fail-fast
 * options), so the catalog's reads — concurrent requests share one MGET (GenerationalCache) — and the
 * app's other commands do not queue behind each other. No auto-pipelining: the reads are coalesced
 * already, and ioredis' pipeline would only hold each MGET back one more turn of the event loop (it
 * measured slower). It follows the app's client: a new client (reconnect, settings change) gets a new
 * duplicate; closing it closes ours. The in-memory stand-in (`memory://`) is used as it is.
 */
function catalogRedis(): Redis {
  const client = getRedis();
  if (getSettings().REDIS_URL.startsWith('memory://')) return client;
  if (client !== base || !own) {
    base = client;
    const duplicate = client.duplicate();
    duplicate.on('error', () => undefined);
    client.once('end', () => duplicate.disconnect());
    own = duplicate;
  }
  return own;
}

/** The process-wide catalog cache (Redis client resolved per call, so a reconnect is picked up). */
export function catalogCache(): GenerationalCache {
  shared ??= new GenerationalCache(catalogRedis);
  return shared;
}

const id = (value: string): string => value.toLowerCase();

export const catalogKeys = {
  tenantGeneration: (tenantId: string): string => `cat:${id(tenantId)}:gen`,
  listGeneration: (tenantId: string): string => `cat:${id(tenantId)}:lgen`,
  productGeneration: (tenantId: string, productId: string): string =>
    `cat:${id(tenantId)}:pgen:${id(productId)}`,
  product: (tenantId: string, productId: string): string => `cat:${id(tenantId)}:p:${id(productId)}`,
  /** A canonical list page (see canonicalListPage): at most 3 sorts × 4 sizes keys per tenant. */
  listPage: (tenantId: string, page: CanonicalListPage): string =>
    `cat:${id(tenantId)}:l:${page.sort}:${page.size}`,
};

/** Page sizes whose first page is cached; any other size is read from PostgreSQL. */
export const CACHED_PAGE_SIZES: readonly number[] = [10, 20, 50, 100];

export interface CanonicalListPage {
  sort: 'newest' | 'price_asc' | 'price_desc';
  size: number;
}

/**
 * The list pages worth a cache entry: first pages of a known sort at a known size, without price
 * filters — what storefronts' landing and category pages ask for again and again. Issue 19: keys built
 * from raw `minPrice`/`maxPrice`/cursor values let anyone mint unbounded distinct keys and fill Redis
 * (evicting other tenants' entries, and — on a shared instance — rate-limit counters). A bounded key
 * set per tenant cannot be flooded; deeper and filtered pages cost one indexed keyset read.
 */
export function canonicalListPage(query: {
  sort: CanonicalListPage['sort'];
  pageSize: number;
  minPrice?: number | undefined;
  maxPrice?: number | undefined;
  cursor?: string | undefined;
}): CanonicalListPage | null {
  if (query.minPrice !== undefined || query.maxPrice !== undefined) return null;
  if (query.cursor !== undefined && query.cursor !== '') return null;
  if (!CACHED_PAGE_SIZES.includes(query.pageSize)) return null;
  return { sort: query.sort, size: query.pageSize };
}

export function productGenerations(tenantId: string, productId: string): string[] {
  return [catalogKeys.tenantGeneration(tenantId), catalogKeys.productGeneration(tenantId, productId)];
}

export function listGenerations(tenantId: string): string[] {
  return [catalogKeys.tenantGeneration(tenantId), catalogKeys.listGeneration(tenantId)];
}

/**
 * A product changed in a way lists show (name, price, status, rating…): its detail and the tenant's
 * list pages are invalid. Call after the write commits. Never throws: the write already happened.
 */
export async function invalidateProduct(
  tenantId: string,
  productId: string,
  log: Logger = silentLogger,
  cache: GenerationalCache = catalogCache(),
): Promise<void> {
  await cache.bump(
    [catalogKeys.productGeneration(tenantId, productId), catalogKeys.listGeneration(tenantId)],
    log,
  );
}

/**
 * Stock of these products changed (reservation, release, sale, admin set): their details are invalid.
 * For the checkout flow: call after the transaction that moved `available` commits.
 */
export async function invalidateProductStock(
  tenantId: string,
  productIds: readonly string[],
  log: Logger = silentLogger,
  cache: GenerationalCache = catalogCache(),
): Promise<void> {
  const unique = [...new Set(productIds.map(id))];
  await cache.bump(
    unique.map((productId) => catalogKeys.productGeneration(tenantId, productId)),
    log,
  );
}

/** Everything cached for the tenant's catalog is invalid (bulk imports, repairs). */
export async function bumpCatalogVersion(
  tenantId: string,
  log: Logger = silentLogger,
  cache: GenerationalCache = catalogCache(),
): Promise<void> {
  await cache.bump([catalogKeys.tenantGeneration(tenantId)], log);
}

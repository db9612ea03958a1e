import type { HttpRequest } from '@azure/functions';
import type { EntityManager } from '@mikro-orm/postgresql';
import { BadRequestException, ForbiddenException, NotFoundException } from '../../shared/errors/index.js';
import type { Principal } from '../../shared/services/context.js';
import { isUuid } from '../../shared/utils/ids.js';

const KNOWN_TTL_MS = 60_000;
const known = new Map<string, number>();

/** Tenants are never deleted while the app runs, so a positive lookup can be reused for a minute. */
function recentlyKnown(id: string): boolean {
  const until = known.get(id);
  return until !== undefined && until > Date.now();
}

async function tenantExists(em: EntityManager, id: string): Promise<boolean> {
  const rows = await em.execute<{ id: string }[]>('select id from tenants where id = ?', [id]);
  if (rows.length === 0) return false;
  if (known.size > 10_000) known.clear();
  known.set(id, Date.now() + KNOWN_TTL_MS);
  return true;
}

/**
 * The tenant of a request: the token's tenant when authenticated (a different X-Tenant-ID is a 403),
 * else the X-Tenant-ID header, which must name an existing tenant (404 otherwise).
 */
export async function resolveTenant(
  request: HttpRequest,
  principal: Principal | undefined,
  em: EntityManager,
): Promise<string> {
  const header = request.headers.get('x-tenant-id')?.trim();
  if (principal) {
    if (header && header.toLowerCase() !== principal.tenantId.toLowerCase()) {
      throw new ForbiddenException('X-Tenant-ID does not match the access token’s tenant.');
    }
    return principal.tenantId;
  }
  if (!header) throw new BadRequestException('The X-Tenant-ID header is required.');
  if (!isUuid(header)) throw new NotFoundException('Unknown tenant.');
  const id = header.toLowerCase();
  // Checked without an await first: most requests name a tenant seen in the last minute.
  if (!recentlyKnown(id) && !(await tenantExists(em, id))) throw new NotFoundException('Unknown tenant.');
  return id;
}

import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationException } from '../../errors/index.js';
import { isUuid, newId } from '../../utils/ids.js';

/** The same rule as the `tenants.slug` check constraint, checked first for a readable message. */
const SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;

export interface TenantRef {
  id: string;
  slug: string;
  name: string;
}

/**
 * Creates the tenant, or returns the existing one with this slug (its name is left as it is).
 * Idempotent and safe under concurrency: `on conflict do nothing`, then read.
 */
export async function ensureTenant(
  em: EntityManager,
  slug: string,
  name: string,
): Promise<TenantRef & { created: boolean }> {
  if (!SLUG.test(slug)) {
    throw new ValidationException([
      {
        field: 'slug',
        message: '2–63 characters: lower-case letters, digits and dashes, not starting with a dash',
      },
    ]);
  }
  if (name.trim() === '' || name.length > 200) {
    throw new ValidationException([{ field: 'name', message: 'must be 1–200 characters' }]);
  }
  const inserted = await em.execute<TenantRef[]>(
    'insert into tenants (id, slug, name) values (?, ?, ?) on conflict (slug) do nothing returning id, slug, name',
    [newId(), slug, name],
  );
  if (inserted[0]) return { ...inserted[0], created: true };
  const existing = await findTenant(em, slug);
  if (!existing) throw new Error(`tenant ${slug} vanished while being created`);
  return { ...existing, created: false };
}

/** A tenant by id or slug, or null. */
export async function findTenant(em: EntityManager, slugOrId: string): Promise<TenantRef | null> {
  const rows = isUuid(slugOrId)
    ? await em.execute<TenantRef[]>('select id, slug, name from tenants where id = ?', [
        slugOrId.toLowerCase(),
      ])
    : await em.execute<TenantRef[]>('select id, slug, name from tenants where slug = ?', [slugOrId]);
  return rows[0] ?? null;
}

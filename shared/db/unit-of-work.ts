import type { EntityManager } from '@mikro-orm/postgresql';
import { getOrm } from './orm.js';

export type UnitOfWorkMode = 'read' | 'write';

/**
 * One unit of work: a fresh EntityManager fork (its own identity map, never shared between
 * invocations). `write` runs inside a transaction that commits, flushing the ORM's changes, only when
 * `fn` resolves, and rolls back everything (ORM changes and raw statements alike) when it throws.
 * `read` runs without a transaction: reads need none, and a cached read then costs no round trip.
 */
export async function runUnitOfWork<T>(
  mode: UnitOfWorkMode,
  fn: (em: EntityManager) => Promise<T>,
): Promise<T> {
  const orm = await getOrm();
  const em = orm.em.fork({ clear: true });
  if (mode === 'read') return fn(em);
  return em.transactional((tx) => fn(tx));
}

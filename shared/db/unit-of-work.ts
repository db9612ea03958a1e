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
  if (mode === 'read') return fn(lazyFork(orm.em));
  return orm.em.fork({ clear: true }).transactional((tx) => fn(tx));
}

/** Answered by a lazily forked EntityManager, without forking it: whether it is still unforked. */
const UNFORKED = Symbol('unforked');

/**
 * Whether statements run through `em` belong to a transaction (a `write` unit of work, or one begun on
 * it). A statement that is atomic on its own may bypass the EntityManager only when this is false —
 * otherwise it would escape the caller's commit or rollback. Never forks a lazy read EntityManager.
 */
export function isInTransaction(em: EntityManager): boolean {
  if (Reflect.get(em, UNFORKED) === true) return false;
  return em.isInTransaction();
}

/**
 * A read invocation's EntityManager, forked on first use: a read served from the cache (or rejected
 * before touching data) never pays for a fork.
 */
function lazyFork(root: EntityManager): EntityManager {
  let fork: EntityManager | undefined;
  const real = (): EntityManager => (fork ??= root.fork({ clear: true }));
  return new Proxy({} as EntityManager, {
    get(_target, property) {
      if (property === UNFORKED) return fork === undefined;
      const em = real();
      const value = Reflect.get(em, property, em) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(em) : value;
    },
    set(_target, property, value) {
      return Reflect.set(real(), property, value);
    },
    has(_target, property) {
      return Reflect.has(real(), property);
    },
    getPrototypeOf() {
      return Reflect.getPrototypeOf(real());
    },
  });
}

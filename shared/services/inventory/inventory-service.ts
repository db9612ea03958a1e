import { InsufficientInventoryException } from '../../errors/index.js';
import { ReservationRepository } from '../../repositories/reservation-repository.js';
import type { DomainContext } from '../context.js';

export interface ReservationLine {
  productId: string;
  quantity: number;
}

/** Postgres unique_violation: a concurrent run of the same order's reservation won the race. */
const UNIQUE_VIOLATION = '23505';

export class ConcurrentReservationError extends Error {
  constructor() {
    super('Another run is reserving this order right now; retry.');
    this.name = 'ConcurrentReservationError';
  }
}

function isUniqueViolation(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === UNIQUE_VIOLATION
  );
}

/** Same product twice becomes one line; lines sorted by product id, the global lock order. */
export function normaliseLines(lines: readonly ReservationLine[]): ReservationLine[] {
  const byProduct = new Map<string, number>();
  for (const line of lines)
    byProduct.set(line.productId, (byProduct.get(line.productId) ?? 0) + line.quantity);
  return [...byProduct]
    .map(([productId, quantity]) => ({ productId, quantity }))
    .sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

/**
 * Stock reservation for orders (fixes the old platform's Issue #234, overselling under concurrent
 * checkouts). No read-modify-write and no lock held across round trips: each line is one atomic
 * conditional decrement (`… where available >= q`) that also writes the reservation row, lines in
 * product-id order so two multi-line orders always lock rows in the same order (no deadlocks).
 *
 * - `reserve`: all lines or none. A single line is one statement and so atomic by itself — the hot
 *   path keeps the row lock only for that statement. Several lines run in one transaction (joining the
 *   caller's if there is one), which any shortfall rolls back.
 * - `commit` / `release`: per active reservation, the `active → committed|released` status transition
 *   and the stock change are one statement, so every call is idempotent and safe to race with the
 *   sweeper or with a re-run of the same activity.
 */
export class InventoryService {
  private readonly reservations: ReservationRepository;

  constructor(private readonly ctx: DomainContext) {
    this.reservations = new ReservationRepository(ctx);
  }

  /**
   * Reserves every line for the order until `ttlSeconds` from now. Throws InsufficientInventoryException
   * (nothing reserved, once the surrounding transaction — ours or the caller's — rolls back). A re-run
   * for an order that already holds its reservations is a no-op. Concurrent runs for the same order:
   * one wins, the other gets ConcurrentReservationError (retry it; it is then a no-op).
   */
  async reserve(orderId: string, lines: readonly ReservationLine[], ttlSeconds: number): Promise<void> {
    const sorted = normaliseLines(lines);
    if (sorted.length === 0) return;
    try {
      if (sorted.length === 1 || this.ctx.em.isInTransaction()) {
        await this.reserveSorted(this.ctx, orderId, sorted, ttlSeconds);
      } else {
        await this.ctx.em.transactional((em) =>
          this.reserveSorted({ ...this.ctx, em }, orderId, sorted, ttlSeconds),
        );
      }
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConcurrentReservationError();
      throw error;
    }
  }

  private async reserveSorted(
    ctx: DomainContext,
    orderId: string,
    lines: readonly ReservationLine[],
    ttlSeconds: number,
  ): Promise<void> {
    const repo = ctx === this.ctx ? this.reservations : new ReservationRepository(ctx);
    for (const line of lines) {
      if (await repo.reserveLine(orderId, line.productId, line.quantity, ttlSeconds)) continue;
      // Nothing changed for this line: already held by this order (a re-run), or not enough stock.
      const existing = await repo.statusOf(orderId, line.productId);
      if (existing === 'active' || existing === 'committed') continue;
      // A released reservation means the order was already compensated: never hold stock for it again.
      if (existing === 'released') throw new Error(`order ${orderId}: its reservation was already released`);
      const available = await repo.available(line.productId);
      throw new InsufficientInventoryException(line.productId, available);
    }
  }

  /**
   * Stock of every active reservation of the order leaves on-hand for good (reserved → sold).
   * Returns the products this call moved (empty when a previous call already did).
   */
  async commit(orderId: string): Promise<string[]> {
    return this.settleAll(orderId, 'committed');
  }

  /** Stock of every active reservation of the order goes back on sale (reserved → available). */
  async release(orderId: string): Promise<string[]> {
    return this.settleAll(orderId, 'released');
  }

  private async settleAll(orderId: string, to: 'committed' | 'released'): Promise<string[]> {
    const moved: string[] = [];
    // Product-id order, like reserve: per-line statements never wait on each other in a cycle.
    for (const reservation of await this.reservations.listActive(orderId)) {
      if (await this.reservations.settle(reservation.id, to)) moved.push(reservation.productId);
    }
    return moved;
  }
}

import { InsufficientInventoryException } from '../../errors/index.js';
import { ReservationRepository } from '../../repositories/reservation-repository.js';
import type { DomainContext } from '../context.js';

export interface ReservationLine {
  productId: string;
  quantity: number;
}

/**
 * Same product twice becomes one line; lines sorted by product id, the global lock order. Ids are
 * compared in canonical lower case, where string order is PostgreSQL's uuid order.
 */
export function normaliseLines(lines: readonly ReservationLine[]): ReservationLine[] {
  const byProduct = new Map<string, number>();
  for (const line of lines) {
    const productId = line.productId.toLowerCase();
    byProduct.set(productId, (byProduct.get(productId) ?? 0) + line.quantity);
  }
  return [...byProduct]
    .map(([productId, quantity]) => ({ productId, quantity }))
    .sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

/**
 * Stock reservation for orders (fixes the old platform's Issue #234, overselling under concurrent
 * checkouts). No read-modify-write and no lock held across round trips: per line the reservation row
 * and one atomic conditional decrement (`… where available >= q`), lines in product-id order so two
 * multi-line orders always lock rows in the same order (no deadlocks).
 *
 * - `reserve`: all lines or none, in ONE statement whatever the number of lines (`reserve_stock`,
 *   migration 0002): atomic by itself, so no transaction of its own — the hot row's lock is held only
 *   while that statement runs (in autocommit) — and it joins the caller's transaction if there is one.
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
   * when a line is short, and then nothing of this call is reserved (in a caller's transaction too). A
   * re-run for an order that already holds its reservations is a no-op, and so is a run concurrent with
   * another for the same order (it waits for the other to finish).
   */
  async reserve(orderId: string, lines: readonly ReservationLine[], ttlSeconds: number): Promise<void> {
    const sorted = normaliseLines(lines);
    if (sorted.length === 0) return;
    const stop = await this.reservations.reserve(orderId, sorted, ttlSeconds);
    if (!stop) return;
    // A released reservation means the order was already compensated: never hold stock for it again.
    if (stop.reason === 'released') throw new Error(`order ${orderId}: its reservation was already released`);
    throw new InsufficientInventoryException(stop.productId, stop.available);
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
    for (const { productId } of await this.reservations.listActive(orderId)) {
      if (await this.reservations.settle(orderId, productId, to)) moved.push(productId);
    }
    return moved;
  }
}

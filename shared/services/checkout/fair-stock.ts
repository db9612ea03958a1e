import { getSettings } from '../../config/index.js';
import { ConflictException } from '../../errors/index.js';
import type { DomainContext } from '../context.js';

/** Orders that hold (or are about to hold) stock and are not paid: see orders/order-status.ts. */
const OPEN_UNPAID = ['pending', 'reserved', 'awaiting_payment', 'requires_action'] as const;

/** The customer already has as many open unpaid orders as one customer may. */
export class OpenOrderLimitException extends ConflictException {
  override readonly type = 'open-order-limit';
  override readonly title = 'Too many unpaid orders';
  constructor(readonly limit: number) {
    super(
      `You already have ${limit} unpaid ${limit === 1 ? 'order' : 'orders'} in progress; complete or ` +
        'cancel one, or wait for its payment window to end.',
    );
    this.extensions.limit = limit;
  }
}

/** Units of one product across the customer's open unpaid orders plus this cart would pass the cap. */
export class ProductUnitLimitException extends ConflictException {
  override readonly type = 'product-unit-limit';
  override readonly title = 'Too many units of one product';
  constructor(
    readonly productId: string,
    readonly limit: number,
    readonly held: number,
  ) {
    super(
      `At most ${limit} units of this product may be in unpaid orders of one customer; ` +
        `${held} already are.`,
    );
    this.extensions.productId = productId;
    this.extensions.limit = limit;
    this.extensions.held = held;
  }
}

export interface FairStockLimits {
  maxOpenOrders: number;
  maxUnitsPerProduct: number;
}

export function fairStockLimits(): FairStockLimits {
  const settings = getSettings();
  return {
    maxOpenOrders: settings.FAIR_STOCK_MAX_OPEN_ORDERS,
    maxUnitsPerProduct: settings.FAIR_STOCK_MAX_UNITS_PER_PRODUCT,
  };
}

/**
 * Fair stock (issue 19): one customer must not be able to hold a shop's stock with unpaid checkouts.
 * Found black-box: four checkouts of one 30-unit cart with a 3-D Secure card under four
 * Idempotency-Keys held 91 of 100 units for the whole payment window, repeatably. Before a new order
 * is written, the customer's open unpaid orders are counted (cap: FAIR_STOCK_MAX_OPEN_ORDERS) and the
 * units of each cart product in them added to the cart's (cap: FAIR_STOCK_MAX_UNITS_PER_PRODUCT).
 *
 * Concurrent checkouts of one customer are serialised on their user row (`for no key update`: it does
 * not block inserts that merely reference the user), held until the checkout's transaction ends, so
 * two racing checkouts cannot both see room for one more. Runs inside the checkout's unit of work.
 */
export async function assertFairStock(
  ctx: DomainContext,
  userId: string,
  lines: readonly { productId: string; quantity: number }[],
  options: { limits?: FairStockLimits; userLocked?: boolean } = {},
): Promise<void> {
  const limits = options.limits ?? fairStockLimits();
  // The caller may already hold the lock (CheckoutService takes it with its idempotency lookup).
  if (!options.userLocked) {
    await ctx.em.execute('select 1 from users where tenant_id = ? and id = ? for no key update', [
      ctx.tenantId,
      userId,
    ]);
  }
  const wanted = new Map<string, number>();
  for (const line of lines) wanted.set(line.productId, (wanted.get(line.productId) ?? 0) + line.quantity);
  // One statement after the lock (its snapshot sees every order committed before the lock was ours):
  // the open unpaid orders and, per wanted product, the units they hold.
  const statuses = OPEN_UNPAID.map(() => '?').join(', ');
  const products = wanted.size > 0 ? [...wanted.keys()] : [null];
  const [row] = await ctx.em.execute<{ n: number; held: { p: string; u: number }[] | null }[]>(
    `with open as (
       select id from orders where tenant_id = ? and user_id = ? and status in (${statuses})
     )
     select (select count(*)::int from open) as n,
            (select json_agg(json_build_object('p', l.product_id, 'u', l.units)) from (
               select l.product_id, sum(l.quantity)::int as units
                 from open o join order_lines l on l.order_id = o.id and l.tenant_id = ?
                where l.product_id in (${products.map(() => '?').join(', ')})
                group by l.product_id) l) as held`,
    [ctx.tenantId, userId, ...OPEN_UNPAID, ctx.tenantId, ...products],
  );
  if ((row?.n ?? 0) >= limits.maxOpenOrders) throw new OpenOrderLimitException(limits.maxOpenOrders);
  const held = new Map<string, number>();
  for (const h of row?.held ?? []) held.set(h.p, Number(h.u));
  for (const [productId, quantity] of wanted) {
    const already = held.get(productId) ?? 0;
    if (already + quantity > limits.maxUnitsPerProduct) {
      throw new ProductUnitLimitException(productId, limits.maxUnitsPerProduct, already);
    }
  }
}

import type { CartBody } from '../../schemas/cart.js';
import { multiplyMinor, sumMinor } from '../../utils/money.js';

/** One stored line joined to its product as it is now (current name, price, currency, status). */
export interface CartLineRow {
  productId: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
  currency: string;
  /** False once the product is archived: the line stays stored but cannot be bought. */
  active: boolean;
}

/**
 * The lines a customer can buy, in the order they were added. The cart's currency is that of its
 * oldest purchasable line. Writes never let two currencies in, but an admin may re-price a product
 * into another currency later; such lines (and archived products' lines) are kept in storage yet left
 * out of the view, the totals and the checkout snapshot, so the total is never a sum across currencies.
 */
export function purchasableLines(rows: readonly CartLineRow[]): CartLineRow[] {
  const active = rows.filter((row) => row.active);
  const currency = active[0]?.currency;
  return active.filter((row) => row.currency === currency);
}

/**
 * Prices the lines exactly: every line total and the sum are safe integers, or the call throws —
 * a total that JavaScript numbers cannot hold exactly is an error, never a wrong number.
 */
export function priceCart(rows: readonly CartLineRow[], version: number): CartBody {
  const purchasable = purchasableLines(rows);
  const lines = purchasable.map((row) => ({
    productId: row.productId,
    name: row.name,
    quantity: row.quantity,
    unitPriceCents: row.unitPriceCents,
    lineTotalCents: multiplyMinor(row.unitPriceCents, row.quantity),
  }));
  return {
    lines,
    totalCents: sumMinor(lines.map((line) => line.lineTotalCents)),
    currency: purchasable[0]?.currency ?? null,
    version,
  };
}

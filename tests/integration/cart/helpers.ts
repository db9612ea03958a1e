import { clearCart, getCart, removeCartItem, setCartItem } from '../../../functions/cart.js';
import { testPool } from '../../fixtures/sample_data.js';
import { invoke, type InvokeResult } from '../../support/http.js';

export type Headers = Record<string, string>;

const base = 'http://localhost/api/cart';

export function readCart(headers: Headers): Promise<InvokeResult> {
  return invoke(getCart, { method: 'GET', url: base, headers });
}

export function putItem(headers: Headers, productId: string, quantity: unknown): Promise<InvokeResult> {
  return invoke(setCartItem, {
    method: 'PUT',
    url: `${base}/items/${productId}`,
    params: { productId },
    headers,
    body: { quantity },
  });
}

export function deleteItem(headers: Headers, productId: string): Promise<InvokeResult> {
  return invoke(removeCartItem, {
    method: 'DELETE',
    url: `${base}/items/${productId}`,
    params: { productId },
    headers,
  });
}

export function emptyCart(headers: Headers): Promise<InvokeResult> {
  return invoke(clearCart, { method: 'DELETE', url: base, headers });
}

/** What is stored, straight from the database (not through the code under test). */
export async function storedCart(
  tenantId: string,
  userId: string,
): Promise<{ carts: number; version: number | null; lines: Record<string, number>; rows: number }> {
  const carts = await testPool().query<{ id: string; version: number }>(
    'select id, version from carts where tenant_id = $1 and user_id = $2',
    [tenantId, userId],
  );
  const lines = await testPool().query<{ product_id: string; quantity: number }>(
    `select l.product_id, l.quantity from cart_lines l join carts c on c.id = l.cart_id
      where c.tenant_id = $1 and c.user_id = $2`,
    [tenantId, userId],
  );
  const byProduct: Record<string, number> = {};
  for (const row of lines.rows) byProduct[row.product_id] = row.quantity;
  return {
    carts: carts.rowCount ?? 0,
    version: carts.rows[0]?.version ?? null,
    lines: byProduct,
    rows: lines.rowCount ?? 0,
  };
}

/** The lines of a cart response as { productId: quantity }. */
export function quantities(body: {
  lines: { productId: string; quantity: number }[];
}): Record<string, number> {
  return Object.fromEntries(body.lines.map((l) => [l.productId, l.quantity]));
}

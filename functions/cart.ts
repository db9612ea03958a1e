import './lib/telemetry-start.js';
import {
  cartConflict,
  cartNotModified,
  cartOk,
  cartPreconditionFailed,
  cartProductNotFound,
  CartProductParams,
  CartReadHeaders,
  CartWriteHeaders,
  SetCartQuantity,
  type CartBody,
} from '../shared/schemas/cart.js';
import { CartService } from '../shared/services/cart/cart-service.js';
import { formatEtag, ifNoneMatchHits, parseIfMatch } from '../shared/utils/etag.js';
import { CART_WRITE_RATE_LIMIT } from '../shared/services/rate-limit/limits.js';
import { Problem } from '../shared/schemas/common.js';
import { defineRoute, type RouteResult } from './lib/route.js';
import { PROBLEM_CONTENT_TYPE } from './lib/problem.js';

const cartRateLimited = {
  description: 'Too many cart changes from this account; see Retry-After.',
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
};

// A cart is private to its owner and changes often: caches may keep it only to revalidate by ETag.
function cartHeaders(version: number): Record<string, string> {
  return { etag: formatEtag(version), 'cache-control': 'private, no-cache', vary: 'Authorization' };
}

function cartResult(cart: CartBody): RouteResult {
  return { body: cart, headers: cartHeaders(cart.version) };
}

const writeDescription =
  'Send `If-Match` with the ETag of your last read to apply the change only to that version (412 ' +
  'otherwise, and nothing changes). Every change bumps the version. Returns the whole cart.';

export const getCart = defineRoute({
  name: 'getCart',
  method: 'GET',
  route: 'cart',
  access: 'customer',
  tags: ['cart'],
  summary: 'The caller’s cart at current prices',
  description: 'A customer who never wrote to a cart gets an empty one at version 0.',
  headers: CartReadHeaders,
  responses: { 200: cartOk, 304: cartNotModified },
  handler: async ({ domain, request }) => {
    const cart = await CartService.forCaller(domain).get();
    if (ifNoneMatchHits(request.headers.get('if-none-match'), cart.version)) {
      return { status: 304, headers: cartHeaders(cart.version) };
    }
    return cartResult(cart);
  },
});

export const setCartItem = defineRoute({
  name: 'setCartItem',
  method: 'PUT',
  route: 'cart/items/{productId}',
  access: 'customer',
  tags: ['cart'],
  summary: 'Set a line’s quantity (0 removes it)',
  description: `Creates the cart on its first write. Quantity 0–99. ${writeDescription}`,
  params: CartProductParams,
  body: SetCartQuantity,
  headers: CartWriteHeaders,
  rateLimit: CART_WRITE_RATE_LIMIT,
  responses: {
    200: cartOk,
    404: cartProductNotFound,
    409: cartConflict,
    412: cartPreconditionFailed,
    429: cartRateLimited,
  },
  handler: async ({ params, body, domain, request }) => {
    const condition = parseIfMatch(request.headers.get('if-match'));
    return cartResult(
      await CartService.forCaller(domain).setQuantity(params.productId, body.quantity, condition),
    );
  },
});

export const removeCartItem = defineRoute({
  name: 'removeCartItem',
  method: 'DELETE',
  route: 'cart/items/{productId}',
  access: 'customer',
  tags: ['cart'],
  summary: 'Remove a line',
  description: `Removing a line that is not there is not an error. ${writeDescription}`,
  params: CartProductParams,
  headers: CartWriteHeaders,
  rateLimit: CART_WRITE_RATE_LIMIT,
  responses: { 200: cartOk, 412: cartPreconditionFailed, 429: cartRateLimited },
  handler: async ({ params, domain, request }) => {
    const condition = parseIfMatch(request.headers.get('if-match'));
    return cartResult(await CartService.forCaller(domain).removeItem(params.productId, condition));
  },
});

export const clearCart = defineRoute({
  name: 'clearCart',
  method: 'DELETE',
  route: 'cart',
  access: 'customer',
  tags: ['cart'],
  summary: 'Empty the cart',
  description: writeDescription,
  headers: CartWriteHeaders,
  rateLimit: CART_WRITE_RATE_LIMIT,
  responses: { 200: cartOk, 412: cartPreconditionFailed, 429: cartRateLimited },
  handler: async ({ domain, request }) => {
    const condition = parseIfMatch(request.headers.get('if-match'));
    return cartResult(await CartService.forCaller(domain).clear(condition));
  },
});

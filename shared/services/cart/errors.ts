import { ConflictException } from '../../errors/index.js';

/** A cart holds one currency: its total is a single amount and a checkout charges it in one payment. */
export class CartCurrencyMismatchException extends ConflictException {
  override readonly type = 'currency-mismatch';
  override readonly title = 'Currency mismatch';
  constructor(
    readonly cartCurrency: string,
    readonly productCurrency: string,
  ) {
    super(`The cart is in ${cartCurrency}; this product is priced in ${productCurrency}.`);
    this.extensions.cartCurrency = cartCurrency;
    this.extensions.productCurrency = productCurrency;
  }
}

/** The cart already holds as many lines as a cart may (CART_MAX_LINES). */
export class CartLineLimitException extends ConflictException {
  override readonly type = 'cart-line-limit';
  override readonly title = 'Too many cart lines';
  constructor(readonly limit: number) {
    super(`A cart holds at most ${limit} different products; remove one first.`);
    this.extensions.limit = limit;
  }
}

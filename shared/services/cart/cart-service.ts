import {
  InsufficientInventoryException,
  PreconditionFailedException,
  ProductNotFoundException,
  UnauthorizedException,
  ValidationException,
} from '../../errors/index.js';
import { CartRepository, type CartVersion } from '../../repositories/cart-repository.js';
import { MAX_LINE_QUANTITY, type CartBody } from '../../schemas/cart.js';
import { isUuid } from '../../utils/ids.js';
import type { DomainContext } from '../context.js';
import { priceCart, purchasableLines, type CartLineRow } from './cart-pricing.js';
import { getSettings } from '../../config/index.js';
import { CartCurrencyMismatchException, CartLineLimitException } from './errors.js';
import type { VersionCondition } from '../../utils/etag.js';

export interface CartSnapshotLine {
  productId: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
  currency: string;
  lineTotalCents: number;
}

/** The cart as a checkout copies it into an order: current prices, one currency, one version. */
export interface CartSnapshot {
  /** Null when the user never had a cart. */
  cartId: string | null;
  /** The cart version these lines are from (pass it to `removeOrdered` to detect later edits). */
  version: number;
  currency: string | null;
  lines: CartSnapshotLine[];
  totalCents: number;
}

export interface OrderedQuantity {
  productId: string;
  quantity: number;
}

function emptyCart(version: number): CartBody {
  return { lines: [], totalCents: 0, currency: null, version };
}

/**
 * One customer's cart in one tenant. Built per invocation from a DomainContext (its unit of work and
 * tenant) and the user whose cart it is — the caller's own (`forCaller`) or, for checkout, a given user.
 *
 * Every change is: validate → bump the cart's version (creating the cart if needed; with a version
 * condition this is the one conditional statement that decides 412) → change lines → read back. The
 * bump holds the cart row lock until the unit of work commits, so changes to one cart are serialised
 * and each is tagged with its own version; a throw after it rolls everything back, version included.
 */
export class CartService {
  private readonly carts: CartRepository;

  constructor(
    ctx: DomainContext,
    private readonly userId: string,
  ) {
    this.carts = new CartRepository(ctx);
  }

  /** The authenticated caller's cart. */
  static forCaller(ctx: DomainContext): CartService {
    if (!ctx.principal) throw new UnauthorizedException();
    return new CartService(ctx, ctx.principal.userId);
  }

  async get(): Promise<CartBody> {
    const state = await this.carts.findByUser(this.userId);
    return state ? priceCart(state.rows, state.version) : emptyCart(0);
  }

  /** Sets a line's quantity (0 removes it). Unknown/archived product → 404; more than in stock → 409. */
  async setQuantity(productId: string, quantity: number, condition?: VersionCondition): Promise<CartBody> {
    if (!Number.isInteger(quantity) || quantity < 0 || quantity > MAX_LINE_QUANTITY) {
      throw new ValidationException([
        { field: 'body.quantity', message: `must be an integer between 0 and ${MAX_LINE_QUANTITY}` },
      ]);
    }
    const product = isUuid(productId) ? await this.carts.findProduct(productId) : undefined;
    if (!product?.active) throw new ProductNotFoundException();
    // Advisory: stock is only held by checkout's reservation; this stops asking for what is not there.
    if (quantity > product.available) {
      throw new InsufficientInventoryException(
        productId,
        product.available,
        `Only ${product.available} of this product ${product.available === 1 ? 'is' : 'are'} available.`,
      );
    }
    const cart = await this.bump(condition);
    if (quantity === 0) await this.carts.deleteLine(cart.id, productId);
    else await this.carts.upsertLine(cart.id, productId, quantity);
    const rows = await this.carts.readLines(cart.id);
    // Checked after the write, under the cart lock: a concurrent writer of another currency has either
    // committed (and is in `rows`) or waits for us — two currencies can never both get in.
    if (quantity > 0) this.assertSameCurrency(rows, productId, product.currency);
    // Same place, same reason: under the cart lock, so concurrent adds cannot both squeeze in. (A cart
    // left over the cap by a lowered setting can only shrink.)
    const maxLines = getSettings().CART_MAX_LINES;
    if (quantity > 0 && rows.length > maxLines) throw new CartLineLimitException(maxLines);
    return priceCart(rows, cart.version);
  }

  async removeItem(productId: string, condition?: VersionCondition): Promise<CartBody> {
    const cart = await this.bump(condition);
    if (isUuid(productId)) await this.carts.deleteLine(cart.id, productId);
    return priceCart(await this.carts.readLines(cart.id), cart.version);
  }

  /** Empties the cart. The cart row stays, so its version keeps counting up and no ETag is ever reused. */
  async clear(condition?: VersionCondition): Promise<CartBody> {
    const cart = await this.bump(condition);
    await this.carts.deleteAllLines(cart.id);
    return emptyCart(cart.version);
  }

  /**
   * The purchasable lines with current prices, read in one statement (one consistent version). An
   * empty snapshot has no lines; deciding that an empty cart cannot be checked out is the caller's.
   */
  async snapshot(): Promise<CartSnapshot> {
    const state = await this.carts.findByUser(this.userId);
    if (!state) return { cartId: null, version: 0, currency: null, lines: [], totalCents: 0 };
    const priced = priceCart(state.rows, state.version);
    const currency = priced.currency;
    return {
      cartId: state.id,
      version: state.version,
      currency,
      lines: priced.lines.map((line) => ({ ...line, currency: currency! })),
      totalCents: priced.totalCents,
    };
  }

  /**
   * Takes what an order bought out of the cart: lines whose quantity the order covered are removed, a
   * line raised since the snapshot keeps the difference, lines added since stay. Use this when an order
   * is paid so edits made during checkout are not lost; `clear()` empties unconditionally.
   */
  async removeOrdered(lines: readonly OrderedQuantity[], condition?: VersionCondition): Promise<CartBody> {
    const byProduct = new Map<string, number>();
    for (const line of lines) {
      if (!isUuid(line.productId) || !Number.isInteger(line.quantity) || line.quantity <= 0) {
        throw new ValidationException([
          { field: 'lines', message: 'each line needs a product id and a quantity > 0' },
        ]);
      }
      byProduct.set(line.productId, (byProduct.get(line.productId) ?? 0) + line.quantity);
    }
    const cart = await this.bump(condition);
    await this.carts.subtractQuantities(
      cart.id,
      [...byProduct].map(([productId, quantity]) => ({ productId, quantity })),
    );
    return priceCart(await this.carts.readLines(cart.id), cart.version);
  }

  private async bump(condition: VersionCondition | undefined): Promise<CartVersion> {
    if (!condition || condition.kind === 'any') return this.carts.bump(this.userId);
    const cart = await this.carts.bumpIfVersion(this.userId, condition.versions);
    if (!cart)
      throw new PreconditionFailedException('The cart has changed since it was read; read it again.');
    return cart;
  }

  private assertSameCurrency(rows: readonly CartLineRow[], productId: string, currency: string): void {
    const others = purchasableLines(rows.filter((row) => row.productId !== productId));
    const cartCurrency = others[0]?.currency;
    if (cartCurrency !== undefined && cartCurrency !== currency) {
      throw new CartCurrencyMismatchException(cartCurrency, currency);
    }
  }
}

import { createHash } from 'node:crypto';
import { ConflictException, UnauthorizedException, UnprocessableException } from '../../errors/index.js';
import { OrderRepository, type OrderRecord } from '../../repositories/order-repository.js';
import type { CheckoutAcceptedBody, CheckoutRequestBody } from '../../schemas/checkout.js';
import { canonicalAddressJson } from '../../schemas/address.js';
import { newId } from '../../utils/ids.js';
import { AuditOutboxWriter } from '../audit/outbox.js';
import { CartService } from '../cart/cart-service.js';
import type { DomainContext } from '../context.js';
import { getFieldCipher } from '../pii-cipher.js';
import { assertFairStock } from './fair-stock.js';

export interface PlacedOrder {
  /** The answer for the client: the same for every request with this Idempotency-Key. */
  response: CheckoutAcceptedBody;
  /** True when the order is still `pending`: its orchestration must be (or may already be) running. */
  needsOrchestration: boolean;
  /** True only for the request that created the order. */
  created: boolean;
}

/** What the order depends on from the request: the body, canonicalised (key order cannot change it). */
export function checkoutRequestHash(body: CheckoutRequestBody): string {
  return createHash('sha256')
    .update(
      JSON.stringify({
        paymentMethodId: body.paymentMethodId,
        shippingAddress: canonicalAddressJson(body.shippingAddress),
      }),
    )
    .digest('hex');
}

/**
 * POST /checkout's domain side: one order per (tenant, user, Idempotency-Key), with the cart's lines
 * and prices copied into it. Runs in the request's transaction; the orchestration is started by the
 * caller after the commit.
 *
 * Exactly-once: the key is looked up first (a retry after the cart was cleared still gets its
 * answer), then the order is inserted with `on conflict do nothing` under the unique
 * (tenant_id, user_id, idempotency_key). Requests racing with one key block on that index until the
 * first commits; the losers insert nothing and answer with the winner's order.
 */
export class CheckoutService {
  private readonly orders: OrderRepository;

  constructor(private readonly ctx: DomainContext) {
    this.orders = new OrderRepository(ctx);
  }

  async placeOrder(idempotencyKey: string, body: CheckoutRequestBody): Promise<PlacedOrder> {
    const userId = this.ctx.principal?.userId;
    if (!userId) throw new UnauthorizedException();
    const requestHash = checkoutRequestHash(body);

    // Also takes the customer's lock that fair stock counts under (one statement for both).
    const existing = await this.orders.lockUserAndFindByIdempotencyKey(userId, idempotencyKey);
    if (existing) return this.replay(existing, requestHash);

    let cart: Awaited<ReturnType<CartService['snapshot']>>;
    try {
      cart = await new CartService(this.ctx, userId).snapshot();
      if (cart.lines.length === 0 || !cart.currency) throw new ConflictException('The cart is empty.');
      await assertFairStock(this.ctx, userId, cart.lines, { userLocked: true });
    } catch (error) {
      // The lookup read in its statement's snapshot, taken before it waited for the lock: a request
      // with this key that held the lock may have committed its order since (and its saga emptied the
      // cart). Before refusing, look again, now after the lock.
      if (!(error instanceof ConflictException)) throw error;
      const winner = await this.orders.findByIdempotencyKey(userId, idempotencyKey);
      if (winner) return this.replay(winner, requestHash);
      throw error;
    }

    const orderId = newId();
    // The order and its audit row in one statement; nothing is returned when another request with
    // this key got there first.
    const inserted = await new AuditOutboxWriter(this.ctx).recordChange(
      this.orders.insertStatement({
        id: orderId,
        userId,
        totalCents: cart.totalCents,
        currency: cart.currency,
        idempotencyKey,
        requestHash,
        paymentMethodId: body.paymentMethodId,
        shippingAddressEnc: (await getFieldCipher()).encrypt(canonicalAddressJson(body.shippingAddress)),
      }),
      {
        entity: 'order',
        action: 'created',
        payload: {
          status: 'pending',
          userId,
          totalCents: cart.totalCents,
          currency: cart.currency,
          lines: cart.lines.map((line) => ({ productId: line.productId, quantity: line.quantity })),
        },
      },
    );
    if (inserted.length === 0) {
      const winner = await this.orders.findByIdempotencyKey(userId, idempotencyKey);
      if (!winner) throw new ConflictException('A concurrent checkout with this key failed; retry.');
      return this.replay(winner, requestHash);
    }
    await this.orders.insertLines(
      orderId,
      cart.lines.map((line) => ({
        productId: line.productId,
        name: line.name,
        quantity: line.quantity,
        unitPriceCents: line.unitPriceCents,
        lineTotalCents: line.lineTotalCents,
      })),
    );
    return { response: { orderId, status: 'pending' }, needsOrchestration: true, created: true };
  }

  private replay(order: OrderRecord, requestHash: string): PlacedOrder {
    if (order.requestHash !== requestHash) {
      throw new UnprocessableException(
        'This Idempotency-Key was already used with a different request body.',
      );
    }
    // The first answer, whatever happened since: a retry must not be able to tell it was a retry.
    return {
      response: { orderId: order.id, status: 'pending' },
      needsOrchestration: order.status === 'pending',
      created: false,
    };
  }
}

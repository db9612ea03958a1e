import { NotFoundException, UnauthorizedException } from '../../errors/index.js';
import {
  OrderRepository,
  type OrderLineRecord,
  type OrderWithPayment,
} from '../../repositories/order-repository.js';
import { OrderCursor, type OrderBodyType } from '../../schemas/orders.js';
import { cursorCodec, toPage } from '../../utils/cursor.js';
import { isUuid } from '../../utils/ids.js';
import type { DomainContext } from '../context.js';
import type { FieldCipher } from '../../crypto/field-cipher.js';
import type { ShippingAddressValue } from '../../schemas/address.js';
import { getFieldCipher } from '../pii-cipher.js';

export interface OrderPageBody {
  items: OrderBodyType[];
  nextCursor: string | null;
}

/** The stored address token back to the API's object; null for orders placed before addresses. */
export function decryptAddress(cipher: FieldCipher, token: string | null): ShippingAddressValue | null {
  return token === null ? null : (JSON.parse(cipher.decrypt(token)) as ShippingAddressValue);
}

export function toOrderBody(
  order: OrderWithPayment,
  lines: readonly OrderLineRecord[],
  cipher: FieldCipher,
): OrderBodyType {
  const body: OrderBodyType = {
    id: order.id,
    status: order.status,
    lines: lines.map((line) => ({
      productId: line.productId,
      name: line.name,
      quantity: line.quantity,
      unitPriceCents: line.unitPriceCents,
      lineTotalCents: line.lineTotalCents,
    })),
    totalCents: order.totalCents,
    currency: order.currency,
    shippingAddress: decryptAddress(cipher, order.shippingAddressEnc),
    payment: {
      status: order.paymentStatus ?? 'pending',
      paymentIntentId: order.paymentIntentId,
      refundedCents: order.refundedCents,
      disputed: order.disputed,
    },
    // API.md: an ISO timestamp (milliseconds); the microseconds stay in the cursor.
    createdAt: new Date(order.createdAt).toISOString(),
  };
  // Only while the customer must authenticate; it is useless (and not shown) afterwards.
  if (order.status === 'requires_action' && order.paymentStatus === 'requires_action' && order.clientSecret) {
    body.clientSecret = order.clientSecret;
  }
  if (order.failureReason) body.failureReason = order.failureReason;
  if (order.fulfilment) body.fulfilment = order.fulfilment;
  return body;
}

/**
 * The customer's own orders. Each read is a fixed number of statements — the page (orders joined to
 * their payment) and its lines (one `in (…)` query) — whatever the page size: no N+1.
 */
export class OrderQueryService {
  private readonly orders: OrderRepository;

  constructor(private readonly ctx: DomainContext) {
    this.orders = new OrderRepository(ctx);
  }

  private userId(): string {
    const userId = this.ctx.principal?.userId;
    if (!userId) throw new UnauthorizedException();
    return userId;
  }

  async history(pageSize: number, cursor?: string): Promise<OrderPageBody> {
    const userId = this.userId();
    // Scoped to the user: another customer's cursor is refused, not merely filtered.
    const codec = await cursorCodec({ tenantId: this.ctx.tenantId, list: `orders:${userId}` });
    const after = codec.decode(cursor, OrderCursor);
    const rows = await this.orders.historyPage(
      userId,
      pageSize + 1,
      after ? { createdAt: after.c, id: after.i } : undefined,
    );
    const pageRows = rows.slice(0, pageSize);
    const lines = await this.orders.linesOf(pageRows.map((row) => row.id));
    const byOrder = new Map<string, OrderLineRecord[]>();
    for (const line of lines) {
      const list = byOrder.get(line.orderId);
      if (list) list.push(line);
      else byOrder.set(line.orderId, [line]);
    }
    const cipher = await getFieldCipher();
    return toPage(
      rows,
      pageSize,
      (row) => toOrderBody(row, byOrder.get(row.id) ?? [], cipher),
      (row) => ({ c: row.createdAt, i: row.id }),
      codec,
    );
  }

  /** One of the caller's orders; another user's or another tenant's is a 404, like a missing one. */
  async get(orderId: string): Promise<OrderBodyType> {
    const userId = this.userId();
    const order = isUuid(orderId) ? await this.orders.findForUser(orderId, userId) : undefined;
    if (!order) throw new NotFoundException('Order not found.');
    return toOrderBody(order, await this.orders.linesOf([order.id]), await getFieldCipher());
  }
}

import { randomUUID } from 'node:crypto';
import type { OrderStatus } from '../../../shared/models/order.js';
import { canonicalAddressJson, type ShippingAddressValue } from '../../../shared/schemas/address.js';
import { SAMPLE_ADDRESS } from '../../fixtures/address.js';
import { testPool } from '../../fixtures/sample_data.js';
import { testPii } from '../../fixtures/users.js';
import { insertOrder } from '../checkout/helpers.js';

/** An order inserted directly in `status`, with an encrypted shipping address and a payment row. */
export async function orderIn(
  tenantId: string,
  userId: string,
  productId: string,
  status: OrderStatus,
  options: { createdAt?: string; address?: ShippingAddressValue | null; quantity?: number } = {},
): Promise<string> {
  // No audit row: the status below is forced by SQL, so no audit trail could replay to it.
  const id = await insertOrder(
    tenantId,
    userId,
    [{ productId, quantity: options.quantity ?? 1 }],
    undefined,
    {
      audit: false,
    },
  );
  const address = options.address === undefined ? SAMPLE_ADDRESS : options.address;
  await testPool().query(
    `update orders set status = $2, shipping_address_enc = $3, created_at = coalesce($4::timestamptz, created_at)
     where id = $1`,
    [
      id,
      status,
      address ? testPii().cipher.encrypt(canonicalAddressJson(address)) : null,
      options.createdAt ?? null,
    ],
  );
  await testPool().query(
    `insert into payments (id, tenant_id, order_id, payment_intent_id, status, amount_cents, currency)
     values ($1, $2, $3, $4, $5, 1000, 'USD')`,
    [randomUUID(), tenantId, id, `pi_${id.slice(0, 8)}`, status === 'pending' ? 'pending' : 'succeeded'],
  );
  return id;
}

export async function statusOf(orderId: string): Promise<string> {
  const { rows } = await testPool().query<{ status: string }>('select status from orders where id = $1', [
    orderId,
  ]);
  return rows[0]!.status;
}

export async function eventsOf(
  orderId: string,
): Promise<{ id: string; type: string; body: Record<string, unknown> }[]> {
  const { rows } = await testPool().query(
    'select id, type, body from order_events where order_id = $1 order by created_at, id',
    [orderId],
  );
  return rows;
}

export async function auditRows(
  entityId: string,
): Promise<{ entity: string; action: string; payload: Record<string, unknown> }[]> {
  const { rows } = await testPool().query(
    'select entity, action, payload from audit_outbox where entity_id = $1 order by created_at, id',
    [entityId],
  );
  return rows;
}

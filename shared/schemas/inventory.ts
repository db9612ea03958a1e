import { addressLine } from './address.js';
import { Uuid } from './common.js';
import { z } from './zod.js';

export const StockAdjustmentRequest = z
  .object({
    delta: z
      .number()
      .int()
      .min(-1_000_000)
      .max(1_000_000)
      .refine((value) => value !== 0, 'must not be 0')
      .openapi({ description: 'Units added to (positive) or removed from (negative) on-hand.', example: -2 }),
    reason: addressLine(200).openapi({ example: 'damaged in the warehouse' }),
  })
  .strict()
  .openapi('StockAdjustmentRequest');

const Levels = {
  onHand: z.number().int().openapi({ description: 'Units in the warehouse: available + reserved.' }),
  reserved: z.number().int().openapi({ description: 'Units held for orders in checkout.' }),
  available: z.number().int().openapi({ description: 'Units that can be sold now.' }),
};

export const StockAdjustment = z
  .object({ id: z.string(), productId: Uuid, delta: z.number().int(), reason: z.string(), ...Levels })
  .openapi('StockAdjustment');
export type StockAdjustmentBody = z.infer<typeof StockAdjustment>;

export const StockMovement = z
  .object({
    id: z.string(),
    kind: z.enum(['reservation', 'sale', 'release', 'restock', 'adjustment']),
    onHandDelta: z.number().int(),
    reservedDelta: z.number().int(),
    orderId: Uuid.nullable(),
    reason: z.string().nullable(),
    actorId: Uuid.nullable(),
    createdAt: z.iso.datetime(),
  })
  .openapi('StockMovement');

export const InventoryLedger = z
  .object({
    productId: Uuid,
    ...Levels,
    sold: z.number().int(),
    movements: z.array(StockMovement).openapi({
      description: 'The newest 20 stock movements (reservations, sales, releases, restocks, adjustments).',
    }),
  })
  .openapi('InventoryLedger');
export type InventoryLedgerBody = z.infer<typeof InventoryLedger>;

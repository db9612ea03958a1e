import { AuditOutboxSchema } from './audit-outbox.js';
import { CartLineSchema, CartSchema } from './cart.js';
import { ExportJobSchema } from './export-job.js';
import { OrderLineSchema, OrderSchema } from './order.js';
import { PaymentSchema, StripeEventSchema } from './payment.js';
import { InventorySchema, ProductSchema } from './product.js';
import { RefreshTokenSchema } from './refresh-token.js';
import { ReservationSchema } from './reservation.js';
import { ReviewSchema } from './review.js';
import { TenantSchema } from './tenant.js';
import { UserSchema } from './user.js';

export * from './audit-outbox.js';
export * from './cart.js';
export * from './export-job.js';
export * from './order.js';
export * from './payment.js';
export * from './product.js';
export * from './refresh-token.js';
export * from './reservation.js';
export * from './review.js';
export * from './tenant.js';
export * from './user.js';

export const entities = [
  TenantSchema,
  UserSchema,
  RefreshTokenSchema,
  ProductSchema,
  InventorySchema,
  CartSchema,
  CartLineSchema,
  OrderSchema,
  OrderLineSchema,
  ReservationSchema,
  PaymentSchema,
  StripeEventSchema,
  ReviewSchema,
  ExportJobSchema,
  AuditOutboxSchema,
];

import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Initial } from './migrations/0001-initial.js';
import { Migration0002ReservationFastPath } from './migrations/0002-reservation-fast-path.js';
import { Migration0003ReservationDropSurrogateId } from './migrations/0003-reservation-drop-surrogate-id.js';
import { Migration0004LeastPrivilege } from './migrations/0004-least-privilege.js';
import { Migration0006OrderLifecycle } from './migrations/0006-order-lifecycle.js';
import { Migration0007RetentionAndFairStock } from './migrations/0007-retention-and-fair-stock.js';
import { Migration0008Refunds } from './migrations/0008-refunds.js';
import { Migration0009ProductVersion } from './migrations/0009-product-version.js';
import { Migration0010RefundSourceBackstop } from './migrations/0010-refund-source-backstop.js';
import { AuditMigration0001Log } from './audit-migrations/0001-audit-log.js';
import { AuditMigration0002AppendOnly } from './audit-migrations/0002-audit-log-append-only.js';

// Listed explicitly (not globbed) so migrations run the same from compiled JS, from TS under vitest,
// and from a zip-deployed package.
export const appMigrations: MigrationObject[] = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-reservation-fast-path', class: Migration0002ReservationFastPath },
  { name: '0003-reservation-drop-surrogate-id', class: Migration0003ReservationDropSurrogateId },
  { name: '0004-least-privilege', class: Migration0004LeastPrivilege },
  { name: '0006-order-lifecycle', class: Migration0006OrderLifecycle },
  { name: '0007-retention-and-fair-stock', class: Migration0007RetentionAndFairStock },
  { name: '0008-refunds', class: Migration0008Refunds },
  { name: '0009-product-version', class: Migration0009ProductVersion },
  { name: '0010-refund-source-backstop', class: Migration0010RefundSourceBackstop },
];
export const auditMigrations: MigrationObject[] = [
  { name: '0001-audit-log', class: AuditMigration0001Log },
  { name: '0002-audit-log-append-only', class: AuditMigration0002AppendOnly },
];

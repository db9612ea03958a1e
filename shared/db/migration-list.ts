import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Initial } from './migrations/0001-initial.js';
import { Migration0002ReservationFastPath } from './migrations/0002-reservation-fast-path.js';
import { Migration0003ReservationDropSurrogateId } from './migrations/0003-reservation-drop-surrogate-id.js';
import { Migration0007RetentionAndFairStock } from './migrations/0007-retention-and-fair-stock.js';
import { AuditMigration0001Log } from './audit-migrations/0001-audit-log.js';

// Listed explicitly (not globbed) so migrations run the same from compiled JS, from TS under vitest,
// and from a zip-deployed package.
export const appMigrations: MigrationObject[] = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-reservation-fast-path', class: Migration0002ReservationFastPath },
  { name: '0003-reservation-drop-surrogate-id', class: Migration0003ReservationDropSurrogateId },
  { name: '0007-retention-and-fair-stock', class: Migration0007RetentionAndFairStock },
];
export const auditMigrations: MigrationObject[] = [{ name: '0001-audit-log', class: AuditMigration0001Log }];

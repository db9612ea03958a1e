import { Migration } from '@mikro-orm/migrations';

/**
 * Reservations lose the surrogate `id` column that migration 0002 kept only because test tooling still
 * named it: nothing references it, every query keys reservations by (order_id, product_id), and its
 * default cost a `gen_random_uuid()` and 16 bytes per reservation on the checkout's hottest insert.
 */
export class Migration0003ReservationDropSurrogateId extends Migration {
  override up(): void {
    this.addSql(`alter table reservations drop column id;`);
  }

  override down(): void {
    this.addSql(`alter table reservations add column id uuid not null default gen_random_uuid();`);
  }
}

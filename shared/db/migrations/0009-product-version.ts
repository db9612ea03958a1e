import { Migration } from '@mikro-orm/migrations';

/**
 * `products.version` (issue #21): the version of a product's editable fields (sku, name, description,
 * price, currency) and of its status. Every admin update or archive bumps it; the API sends it as the
 * product's `ETag` and `PATCH /manage/products/{id}` honours `If-Match` by putting the version in the
 * UPDATE's WHERE clause (one conditional statement: of two editors holding the same ETag exactly one
 * wins). Stock (the `inventory` table) and the rating summary are live counters that checkouts and
 * reviews move all the time: they do not bump it, or an admin's edit would fail on every sale.
 *
 * Adding a NOT NULL column with a constant default is a catalog-only change in PostgreSQL ≥ 11 (no
 * table rewrite); existing products start at version 1.
 */
export class Migration0009ProductVersion extends Migration {
  override up(): void {
    this.addSql(`alter table products add column version integer not null default 1;`);
  }

  override down(): void {
    this.addSql(`alter table products drop column version;`);
  }
}

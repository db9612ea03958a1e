import { Migration } from '@mikro-orm/migrations';

/**
 * Nobody creates objects in the public schema by default (PostgreSQL 15 made this the default for new
 * databases; a database created on an older server or restored from one still grants it to PUBLIC).
 * Only the owner role creates objects; the app role gets DML on what exists (infra/db/roles.ts).
 */
export class Migration0004LeastPrivilege extends Migration {
  override up(): void {
    this.addSql(`revoke create on schema public from public;`);
  }

  override down(): void {
    // Deliberately not re-granted: widening privileges is not a rollback anyone needs.
  }
}

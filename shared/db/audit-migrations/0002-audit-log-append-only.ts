import { Migration } from '@mikro-orm/migrations';

/**
 * audit_log is append-only for everyone but its owner (the migration role): UPDATE and DELETE (per row)
 * and TRUNCATE (per statement) raise insufficient_privilege unless the current role has the owner's
 * privileges. Grants alone already keep the audit role to INSERT/SELECT (infra/db/roles.ts); the trigger
 * holds even if a broader grant is ever added. Only the owner (or a superuser) can drop or disable it.
 */
export class AuditMigration0002AppendOnly extends Migration {
  override up(): void {
    this.addSql(`
create function audit_log_append_only() returns trigger
language plpgsql
as $fn$
declare
  v_owner oid := (select c.relowner from pg_class c where c.oid = tg_relid);
begin
  if not pg_has_role(current_user, v_owner, 'USAGE') then
    raise exception 'audit_log is append-only: % refused for role %', tg_op, current_user
      using errcode = 'insufficient_privilege';
  end if;
  if tg_level = 'STATEMENT' then
    return null;
  elsif tg_op = 'DELETE' then
    return old;
  end if;
  return new;
end
$fn$;
create trigger audit_log_no_update_delete before update or delete on audit_log
  for each row execute function audit_log_append_only();
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function audit_log_append_only();
`);
  }

  override down(): void {
    this.addSql(`
drop trigger if exists audit_log_no_truncate on audit_log;
drop trigger if exists audit_log_no_update_delete on audit_log;
drop function if exists audit_log_append_only();
`);
  }
}

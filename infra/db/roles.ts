/**
 * PostgreSQL least privilege, applied by the migrate command (`--owner-role … --app-role … --audit-role …`).
 *
 * - owner (NOLOGIN): owns every object of both databases. Migrations run as this role
 *   (`-c role=<owner>` in the startup packet), so what they create is owned by it and picks up the
 *   default privileges below. The login that migrates (server admin, deploy principal) must be able to
 *   become it: it creates the role and grants it to itself.
 * - app (NOLOGIN group): CONNECT, schema USAGE, and SELECT/INSERT/UPDATE/DELETE on the app database's
 *   tables and sequences — no CREATE anywhere, not the owner of anything, so no ALTER/DROP/TRUNCATE.
 * - audit (NOLOGIN group): CONNECT and USAGE on the audit database, INSERT and SELECT on audit_log
 *   only; audit migration 0002's trigger refuses UPDATE/DELETE/TRUNCATE to everyone but the owner even
 *   if a grant slips through.
 * Login principals (the managed identity registered with pgaadauth_create_principal_with_oid, or a
 * password role locally) are made members of app (`--grant-app-to`) and/or audit (`--grant-audit-to`).
 * The Function App has one identity, which runs both the API and the audit relay: it gets both.
 *
 * Role names are identifiers chosen by the operator; they are quoted with format('%I') on the server.
 */
import pg from 'pg';
import { migrateAll } from '../../shared/db/migrate.js';

export interface DatabaseRoles {
  owner: string;
  app: string;
  audit: string;
}

const ROLE_NAME = /^[a-z_][a-z0-9_-]{0,62}$/i;

/** Logins to make members of the app role and of the audit role. */
export interface RoleMembers {
  app: readonly string[];
  audit: readonly string[];
}

export function checkRoleNames(roles: DatabaseRoles, members: RoleMembers = { app: [], audit: [] }): void {
  for (const name of [roles.owner, roles.app, roles.audit, ...members.app, ...members.audit]) {
    if (!ROLE_NAME.test(name)) throw new Error(`not a role name: ${JSON.stringify(name)}`);
  }
  if (new Set([roles.owner, roles.app, roles.audit]).size !== 3) {
    throw new Error('owner, app and audit roles must be three different roles');
  }
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Creates the three NOLOGIN roles when missing and lets the migrating login act as the owner. */
async function ensureRoles(client: pg.Client, roles: DatabaseRoles): Promise<void> {
  // A DO block takes no parameters: the names go in as quoted literals (and were checked above).
  const names = [roles.owner, roles.app, roles.audit].map(literal).join(', ');
  await client.query(`
do $$
declare r text;
begin
  foreach r in array array[${names}]::text[] loop
    if not exists (select from pg_roles where rolname = r) then
      execute format('create role %I nologin', r);
    end if;
  end loop;
  if not pg_has_role(current_user, ${literal(roles.owner)}, 'MEMBER') then
    execute format('grant %I to %I', ${literal(roles.owner)}, current_user);
  end if;
end $$`);
}

/** Hands every object of the public schema to the owner (first adoption of a database migrated as admin). */
const ADOPT = `
do $$
declare
  owner_role text := %OWNER%;
  obj record;
begin
  execute format('grant usage, create on schema public to %I', owner_role);
  for obj in
    select c.relname, c.relkind from pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'S')
      and pg_get_userbyid(c.relowner) <> owner_role
      -- sequences owned by a column follow their table
      and not (c.relkind = 'S' and exists (
        select from pg_depend d where d.objid = c.oid and d.classid = 'pg_class'::regclass and d.deptype in ('a', 'i')))
  loop
    execute format('alter %s %I owner to %I',
      case obj.relkind when 'S' then 'sequence' when 'v' then 'view' when 'm' then 'materialized view' else 'table' end,
      obj.relname, owner_role);
  end loop;
  for obj in
    select p.oid::regprocedure as sig from pg_proc p
    where p.pronamespace = 'public'::regnamespace and pg_get_userbyid(p.proowner) <> owner_role
  loop
    execute format('alter routine %s owner to %I', obj.sig, owner_role);
  end loop;
end $$`;

async function adopt(client: pg.Client, owner: string): Promise<void> {
  await client.query(ADOPT.replace('%OWNER%', literal(owner)));
}

type Grants = (id: (name: string) => string, database: string) => string[];

/** Adopts the database's objects for the owner, then runs `grants` (idempotent: after every migration). */
async function applyGrants(client: pg.Client, owner: string, grants: Grants): Promise<void> {
  await adopt(client, owner);
  const db = (await client.query<{ db: string }>('select current_database() as db')).rows[0]!.db;
  for (const sql of grants((name) => client.escapeIdentifier(name), db)) await client.query(sql);
}

/** The app database: DML on its tables and sequences, today's and those the owner creates later. */
export function applyAppRoles(
  client: pg.Client,
  roles: DatabaseRoles,
  members: readonly string[],
): Promise<void> {
  return applyGrants(client, roles.owner, (id, db) => [
    `grant connect on database ${id(db)} to ${id(roles.app)}`,
    `grant usage on schema public to ${id(roles.app)}`,
    `grant select, insert, update, delete on all tables in schema public to ${id(roles.app)}`,
    `grant usage, select on all sequences in schema public to ${id(roles.app)}`,
    // The migrations' bookkeeping is not the app's business.
    `revoke insert, update, delete on table mikro_orm_migrations from ${id(roles.app)}`,
    `alter default privileges for role ${id(roles.owner)} in schema public grant select, insert, update, delete on tables to ${id(roles.app)}`,
    `alter default privileges for role ${id(roles.owner)} in schema public grant usage, select on sequences to ${id(roles.app)}`,
    ...members.map((m) => `grant ${id(roles.app)} to ${id(m)}`),
  ]);
}

/** The audit database: INSERT and SELECT on audit_log, nothing else. */
export function applyAuditRoles(
  client: pg.Client,
  roles: DatabaseRoles,
  members: readonly string[],
): Promise<void> {
  return applyGrants(client, roles.owner, (id, db) => [
    `grant connect on database ${id(db)} to ${id(roles.audit)}`,
    `grant usage on schema public to ${id(roles.audit)}`,
    `grant select, insert on table audit_log to ${id(roles.audit)}`,
    ...members.map((m) => `grant ${id(roles.audit)} to ${id(m)}`),
  ]);
}

/** Creates the roles and hands both databases' existing objects to the owner, before migrating. */
export async function prepareRoles(
  urls: { app: string; audit: string },
  roles: DatabaseRoles,
): Promise<void> {
  await withClient(urls.app, async (client) => {
    await ensureRoles(client, roles);
    await adopt(client, roles.owner);
  });
  await withClient(urls.audit, (client) => adopt(client, roles.owner));
}

/** The grants, after migrating. */
export async function grantRoles(
  urls: { app: string; audit: string },
  roles: DatabaseRoles,
  members: RoleMembers,
): Promise<void> {
  await withClient(urls.app, (client) => applyAppRoles(client, roles, members.app));
  await withClient(urls.audit, (client) => applyAuditRoles(client, roles, members.audit));
}

/** The whole sequence the migrate command runs with role flags: roles, adoption, migrations as owner, grants. */
export async function migrateWithRoles(
  urls: { app: string; audit: string },
  roles: DatabaseRoles,
  members: RoleMembers,
): Promise<{ app: string[]; audit: string[] }> {
  checkRoleNames(roles, members);
  await prepareRoles(urls, roles);
  const applied = await migrateAll(urls, { role: roles.owner });
  await grantRoles(urls, roles, members);
  return applied;
}

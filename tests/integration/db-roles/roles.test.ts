import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrateWithRoles, type DatabaseRoles } from '../../../infra/db/roles.js';
import { resetSettingsForTests } from '../../../shared/config/index.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { runUnitOfWork } from '../../../shared/db/unit-of-work.js';
import { Tenant } from '../../../shared/models/tenant.js';
import { databaseUrl } from '../../setup/test-env.js';

/**
 * Least privilege on the real PostgreSQL: a scratch app + audit database pair migrated the way the deploy
 * does it (infra/db/roles.ts through the migrate command's role flags), with roles named for this run
 * (roles are cluster-wide; all are dropped afterwards). Logins: `app_login` (member of the app role),
 * `audit_login` (member of the audit role), `intruder` (given UPDATE/DELETE/TRUNCATE on audit_log
 * directly, to prove the trigger holds when grants do not).
 */

const prefix = `ecom_r${randomBytes(4).toString('hex')}`;
const roles: DatabaseRoles = { owner: `${prefix}_owner`, app: `${prefix}_app`, audit: `${prefix}_audit` };
const logins = { app: `${prefix}_app_login`, audit: `${prefix}_audit_login`, intruder: `${prefix}_intruder` };
const appDb = prefix;
const auditDb = `${prefix}_audit`;

function urlAs(user: string, db: string): string {
  const url = new URL(databaseUrl(db));
  url.username = user;
  return url.toString();
}

async function admin<T>(db: string, run: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl(db) });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** The SQLSTATE a statement fails with as `user` on `db` ('ok' when it succeeds). */
async function outcome(user: string, db: string, sql: string, role?: string): Promise<string> {
  const client = new pg.Client({
    connectionString: urlAs(user, db),
    ...(role ? { options: `-c role=${role}` } : {}),
  });
  await client.connect();
  try {
    await client.query(sql);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    await client.end();
  }
}

let previousDatabaseUrl: string | undefined;

beforeAll(async () => {
  await admin('postgres', async (c) => {
    await c.query(`create database "${appDb}"`);
    await c.query(`create database "${auditDb}"`);
    for (const login of Object.values(logins)) await c.query(`create role "${login}" login`);
  });
  await migrateWithRoles({ app: databaseUrl(appDb), audit: databaseUrl(auditDb) }, roles, {
    app: [logins.app],
    audit: [logins.audit],
  });
  await admin(auditDb, async (c) => {
    await c.query(`grant update, delete, truncate on audit_log to "${logins.intruder}"`);
    await c.query(
      `insert into audit_log (outbox_id, tenant_id, entity, entity_id, action, payload, occurred_at)
       values ($1, $2, 'order', $3, 'created', '{}', now())`,
      [randomUUID(), randomUUID(), randomUUID()],
    );
  });
}, 60_000);

afterAll(async () => {
  await closeOrms();
  if (previousDatabaseUrl !== undefined) process.env.DATABASE_URL = previousDatabaseUrl;
  resetSettingsForTests();
  await admin('postgres', async (c) => {
    await c.query(`drop database if exists "${appDb}" with (force)`);
    await c.query(`drop database if exists "${auditDb}" with (force)`);
    for (const role of [...Object.values(logins), roles.app, roles.audit, roles.owner]) {
      await c.query(`drop role if exists "${role}"`);
    }
  });
}, 60_000);

const AUDIT_ROW = `(outbox_id, tenant_id, entity, entity_id, action, payload, occurred_at)
  values (gen_random_uuid(), gen_random_uuid(), 'order', gen_random_uuid(), 'created', '{}', now())`;

describe('PostgreSQL roles', () => {
  it('the owner role owns every table and routine of both databases', async () => {
    for (const db of [appDb, auditDb]) {
      const owners = await admin(db, async (c) => {
        const { rows } = await c.query<{ owner: string }>(
          `select distinct pg_get_userbyid(relowner) as owner from pg_class
           where relnamespace = 'public'::regnamespace and relkind in ('r', 'p', 'v', 'S')
           union select distinct pg_get_userbyid(proowner) from pg_proc where pronamespace = 'public'::regnamespace`,
        );
        return rows.map((r) => r.owner);
      });
      expect(owners, db).toEqual([roles.owner]);
    }
  });

  it('the app role cannot change the schema: CREATE, ALTER, DROP, TRUNCATE are refused', async () => {
    const refused = {
      create: await outcome(logins.app, appDb, 'create table sneaky (id int)'),
      createFunction: await outcome(
        logins.app,
        appDb,
        'create function sneaky() returns int language sql as $$ select 1 $$',
      ),
      alter: await outcome(logins.app, appDb, 'alter table tenants add column sneaky int'),
      drop: await outcome(logins.app, appDb, 'drop table reviews'),
      truncate: await outcome(logins.app, appDb, 'truncate tenants cascade'),
      migrations: await outcome(logins.app, appDb, `delete from mikro_orm_migrations`),
    };
    expect(refused).toEqual({
      create: '42501',
      createFunction: '42501',
      alter: '42501',
      drop: '42501',
      truncate: '42501',
      migrations: '42501',
    });
  });

  it('the app still works under the app role: a real unit-of-work write commits', async () => {
    previousDatabaseUrl = process.env.DATABASE_URL;
    process.env.DATABASE_URL = urlAs(logins.app, appDb);
    resetSettingsForTests();
    await closeOrms();
    const id = randomUUID();
    await runUnitOfWork('write', async (em) => {
      em.create(Tenant, { id, slug: `roles-${id.slice(0, 8)}`, name: 'Least privilege shop' });
    });
    const { rows } = await admin(appDb, (c) => c.query('select name from tenants where id = $1', [id]));
    expect(rows).toEqual([{ name: 'Least privilege shop' }]);
    // The connection really was the app login, not the superuser.
    const who = await runUnitOfWork('read', async (em) =>
      em.execute<{ u: string }[]>('select current_user as u'),
    );
    expect(who[0]!.u).toBe(logins.app);
  });

  it('the audit role may only INSERT and SELECT audit_log', async () => {
    expect({
      insert: await outcome(logins.audit, auditDb, `insert into audit_log ${AUDIT_ROW}`),
      select: await outcome(logins.audit, auditDb, 'select count(*) from audit_log'),
      update: await outcome(logins.audit, auditDb, `update audit_log set action = 'forged'`),
      delete: await outcome(logins.audit, auditDb, 'delete from audit_log'),
      truncate: await outcome(logins.audit, auditDb, 'truncate audit_log'),
      appData: await outcome(logins.audit, appDb, 'select count(*) from tenants'),
    }).toEqual({
      insert: 'ok',
      select: 'ok',
      update: '42501',
      delete: '42501',
      truncate: '42501',
      appData: '42501',
    });
  });

  it('the app role cannot insert, update or delete audit rows', async () => {
    expect(await outcome(logins.app, auditDb, `insert into audit_log ${AUDIT_ROW}`)).toBe('42501');
    expect(await outcome(logins.app, auditDb, `update audit_log set action = 'forged'`)).toBe('42501');
    expect(await outcome(logins.app, auditDb, 'delete from audit_log')).toBe('42501');
  });

  it('nobody but the owner alters audit rows, even with UPDATE/DELETE/TRUNCATE granted (the trigger)', async () => {
    expect({
      update: await outcome(logins.intruder, auditDb, `update audit_log set action = 'forged'`),
      delete: await outcome(logins.intruder, auditDb, 'delete from audit_log'),
      truncate: await outcome(logins.intruder, auditDb, 'truncate audit_log'),
    }).toEqual({ update: '42501', delete: '42501', truncate: '42501' });
    const before = await admin(auditDb, (c) =>
      c.query(`select count(*)::int as n from audit_log where action = 'forged'`),
    );
    expect(before.rows[0].n).toBe(0);
    // The owner (here the migrating login acting as the owner role) still can: restores, retention.
    await admin('postgres', (c) => c.query(`grant "${roles.owner}" to "${logins.intruder}"`));
    expect(await outcome(logins.intruder, auditDb, `update audit_log set action = action`, roles.owner)).toBe(
      'ok',
    );
  });
});

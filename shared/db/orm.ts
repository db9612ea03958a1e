import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { entities } from '../models/index.js';
import { appMigrations, auditMigrations } from './migration-list.js';
import { getSettings } from '../config/index.js';
import { countQuery } from './query-counter.js';
import { closeReadPool } from './read-pool.js';
import { ormPoolMax } from './capacity.js';
import { databaseAuth, databasePassword } from './database-auth.js';
import { withStatementTimeout } from './statement-timeout.js';

export type AppOrm = MikroORM;

function baseOptions(clientUrl: string, poolMax: number): Options {
  // Entra auth (Azure): a fresh access token for each new connection; the URL's password otherwise.
  const password = databasePassword(databaseAuth());
  return {
    clientUrl,
    ...(password ? { password: password.forOrm } : {}),
    pool: { min: 0, max: poolMax, idleTimeoutMillis: 30_000 },
    // Schema comes from hand-written migrations only; never synchronise it from metadata.
    ensureDatabase: false,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    // Statement counting (N+1 proofs) is for tests; building every logged query string costs CPU.
    debug: process.env.APP_ENV === 'test' ? ['query'] : false,
    logger: (message: string) => countQuery(message),
    // Without this, knex writes bound values (names, emails, hashes) into error messages, which end up in logs.
    driverOptions: { compileSqlOnError: false },
    extensions: [Migrator],
  };
}

/** The application database: all domain entities, migrations in `migrations/`. */
export function appOrmOptions(clientUrl: string, poolMax = 10): Options {
  return {
    ...baseOptions(clientUrl, poolMax),
    entities,
    migrations: {
      tableName: 'mikro_orm_migrations',
      migrationsList: appMigrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
    },
  };
}

/** Connections of the audit ORM (migrations and reads of the audit database). */
export const AUDIT_ORM_POOL_MAX = 4;

/** The audit database: no entities (rows are written with plain SQL), its own migrations. */
export function auditOrmOptions(clientUrl: string): Options {
  return {
    ...baseOptions(clientUrl, AUDIT_ORM_POOL_MAX),
    entities: [],
    discovery: { warnWhenNoEntities: false },
    migrations: {
      tableName: 'mikro_orm_migrations',
      migrationsList: auditMigrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
    },
  };
}

let appOrm: Promise<MikroORM> | undefined;
let auditOrm: Promise<MikroORM> | undefined;

/** One pool per process (per Functions worker), shared by all invocations. */
export function getOrm(): Promise<MikroORM> {
  if (!appOrm) {
    const settings = getSettings();
    // The read pool (read-pool.ts) takes its share of the instance's connection budget from the ORM's.
    appOrm = MikroORM.init(
      withStatementTimeout(
        appOrmOptions(settings.DATABASE_URL, ormPoolMax(settings.DATABASE_POOL_MAX)),
        settings.DATABASE_STATEMENT_TIMEOUT_MS,
      ),
    );
    appOrm.catch(() => (appOrm = undefined));
  }
  return appOrm;
}

export function getAuditOrm(): Promise<MikroORM> {
  if (!auditOrm) {
    const settings = getSettings();
    auditOrm = MikroORM.init(
      withStatementTimeout(
        auditOrmOptions(settings.AUDIT_DATABASE_URL),
        settings.DATABASE_STATEMENT_TIMEOUT_MS,
      ),
    );
    auditOrm.catch(() => (auditOrm = undefined));
  }
  return auditOrm;
}

export async function closeOrms(): Promise<void> {
  const pending = [appOrm, auditOrm];
  appOrm = undefined;
  auditOrm = undefined;
  await Promise.all([
    ...pending.map(async (orm) => {
      if (orm) await (await orm).close(true);
    }),
    closeReadPool(),
  ]);
}

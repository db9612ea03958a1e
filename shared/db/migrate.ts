import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { appOrmOptions, auditOrmOptions } from './orm.js';
import { getSettings } from '../config/index.js';

/**
 * Runs as `role` when given: the role travels in the startup packet (`-c role=…`, like SET ROLE for
 * the whole session), so every object a migration creates is owned by it (infra/db/roles.ts).
 */
function asRole(options: Options, role: string | undefined): Options {
  if (!role) return options;
  const driverOptions = (options.driverOptions ?? {}) as Record<string, unknown>;
  return { ...options, driverOptions: { ...driverOptions, connection: { options: `-c role=${role}` } } };
}

async function migrate(options: Options): Promise<string[]> {
  const orm = await MikroORM.init(options);
  try {
    const done = await orm.getMigrator().up();
    return done.map((m) => m.name);
  } finally {
    await orm.close(true);
  }
}

/** Applies pending migrations to the app and audit databases named by the settings. */
export async function migrateAll(
  urls: { app: string; audit: string } = {
    app: getSettings().DATABASE_URL,
    audit: getSettings().AUDIT_DATABASE_URL,
  },
  options: { role?: string } = {},
): Promise<{ app: string[]; audit: string[] }> {
  return {
    app: await migrate(asRole(appOrmOptions(urls.app, 2), options.role)),
    audit: await migrate(asRole(auditOrmOptions(urls.audit), options.role)),
  };
}

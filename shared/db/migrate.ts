import { MikroORM } from '@mikro-orm/postgresql';
import { appOrmOptions, auditOrmOptions } from './orm.js';
import { getSettings } from '../config/index.js';

async function migrate(options: ReturnType<typeof appOrmOptions>): Promise<string[]> {
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
): Promise<{ app: string[]; audit: string[] }> {
  return {
    app: await migrate(appOrmOptions(urls.app, 2)),
    audit: await migrate(auditOrmOptions(urls.audit)),
  };
}

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrateAll } from '../../../shared/db/migrate.js';
import { ADMIN_PG_URL, databaseUrl } from '../../setup/test-env.js';

export interface OwnDatabase {
  url: string;
  auditUrl: string;
  drop(): Promise<void>;
}

/**
 * A migrated app + audit database pair for one e2e suite, made the current process's DATABASE_URL and
 * AUDIT_DATABASE_URL: a host's timers (reservation sweeper, audit relay) must not act on rows that other
 * test files are asserting about.
 */
export async function useOwnDatabase(label: string): Promise<OwnDatabase> {
  const name = `ecom_e2e_${label}_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Client({ connectionString: ADMIN_PG_URL });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.query(`create database "${name}_audit"`);
  await admin.end();
  const url = databaseUrl(name);
  const auditUrl = databaseUrl(`${name}_audit`);
  process.env.DATABASE_URL = url;
  process.env.AUDIT_DATABASE_URL = auditUrl;
  await migrateAll({ app: url, audit: auditUrl });
  return {
    url,
    auditUrl,
    drop: async () => {
      const c = new pg.Client({ connectionString: ADMIN_PG_URL });
      await c.connect();
      for (const db of [name, `${name}_audit`]) {
        // Give closing pools a moment to hang up: a forced drop would kill a connection mid-goodbye.
        for (let attempt = 0; ; attempt++) {
          try {
            await c.query(`drop database if exists "${db}"${attempt >= 50 ? ' with (force)' : ''}`);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
      await c.end();
    },
  };
}

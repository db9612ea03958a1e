import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrateAll } from '../../../shared/db/migrate.js';
import { ADMIN_PG_URL, databaseUrl } from '../../setup/test-env.js';

/**
 * A migrated app + audit database pair of the suite's own. The reliability suites snapshot and checksum
 * WHOLE databases and run the host's timers (sweeper, audit relay) against them, so they must not share
 * a database with test files that run in parallel.
 */
export interface OwnDatabases {
  name: string;
  appUrl: string;
  auditUrl: string;
  drop(): Promise<void>;
}

export async function createOwnDatabases(label: string): Promise<OwnDatabases> {
  const name = `ecom_rel_${label}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_PG_URL });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
    await admin.query(`create database "${name}_audit"`);
  } finally {
    await admin.end();
  }
  const appUrl = databaseUrl(name);
  const auditUrl = databaseUrl(`${name}_audit`);
  await migrateAll({ app: appUrl, audit: auditUrl });
  return {
    name,
    appUrl,
    auditUrl,
    drop: async () => {
      // RELIABILITY_KEEP_DB=1 keeps the pair for a post-mortem (drop it by hand afterwards).
      if (process.env.RELIABILITY_KEEP_DB === '1') {
        console.log(`[reliability] kept databases ${name} and ${name}_audit`);
        return;
      }
      const c = new pg.Client({ connectionString: ADMIN_PG_URL });
      await c.connect();
      try {
        for (const db of [name, `${name}_audit`]) {
          // Give closing pools a moment to hang up before forcing: a forced drop kills them mid-goodbye.
          for (let attempt = 0; ; attempt++) {
            try {
              await c.query(`drop database if exists "${db}"${attempt >= 20 ? ' with (force)' : ''}`);
              break;
            } catch {
              await new Promise((r) => setTimeout(r, 100));
            }
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Runs every teardown step even when one fails (a host that will not stop must not leave the
 * databases behind), then throws the first failure.
 */
export async function tearDown(steps: (() => Promise<unknown> | undefined)[]): Promise<void> {
  let first: Error | undefined;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      first ??= error instanceof Error ? error : new Error(String(error));
    }
  }
  if (first) throw first;
}

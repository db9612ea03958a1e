import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrateAll } from '../../shared/db/migrate.js';

const ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ScratchDatabase {
  url: string;
  auditUrl: string;
  drop(): Promise<void>;
}

function withDatabase(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A migrated app + audit database pair for one benchmark run, dropped afterwards. `migrate: false`
 * leaves both empty, for a host of another commit to apply that commit's own migrations.
 */
export async function createScratchDatabase(
  label: string,
  { migrate = true }: { migrate?: boolean } = {},
): Promise<ScratchDatabase> {
  const name = `bench_${label}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.query(`create database "${name}_audit"`);
  await admin.end();
  const url = withDatabase(name);
  const auditUrl = withDatabase(`${name}_audit`);
  if (migrate) await migrateAll({ app: url, audit: auditUrl });
  return {
    url,
    auditUrl,
    drop: async () => {
      // For looking at a run afterwards (e.g. each order's status timeline in audit_outbox).
      if (process.env.BENCH_KEEP_DATABASES) {
        console.log(`kept databases ${name} and ${name}_audit (BENCH_KEEP_DATABASES)`);
        return;
      }
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.query(`drop database if exists "${name}_audit" with (force)`);
      await c.end();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

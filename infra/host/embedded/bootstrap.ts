import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HostLogger } from '../types.js';

export interface SampleData {
  tenantId: string;
  tenantSlug: string;
  customer: { email: string; password: string };
  admin: { email: string; password: string };
  adminToken?: string;
}

/**
 * Modules other work streams own, loaded by path so the host runs before they exist. Compiled (`.js`)
 * next to this file's counterpart under dist/, or the `.ts` source when running under vitest.
 */
async function optionalModule(relative: string): Promise<Record<string, unknown> | undefined> {
  const base = path.resolve(__dirname, relative);
  for (const file of [`${base}.js`, `${base}.ts`]) {
    if (!existsSync(file)) continue;
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  }
  return undefined;
}

/** Applies the app and audit migrations (shared/db/migrate.ts `migrateAll`), reading DATABASE_URL & co. */
export async function runMigrations(logger: HostLogger): Promise<boolean> {
  const mod = await optionalModule('../../../shared/db/migrate');
  const migrateAll = mod?.migrateAll;
  if (typeof migrateAll !== 'function') {
    logger.warn('shared/db/migrate has no migrateAll(): migrations skipped');
    return false;
  }
  const done = (await (migrateAll as () => Promise<unknown>)()) as
    { app?: string[]; audit?: string[] } | undefined;
  const count = (done?.app?.length ?? 0) + (done?.audit?.length ?? 0);
  logger.info(
    count > 0
      ? `Migrations applied: ${[...(done?.app ?? []), ...(done?.audit ?? [])].join(', ')}`
      : 'Database schema is up to date',
  );
  return true;
}

/** Seeds the sample tenant and users (idempotent) via infra/seed/sample-data.ts, when it exists. */
export async function runSeed(logger: HostLogger): Promise<SampleData | undefined> {
  const mod = await optionalModule('../../seed/sample-data');
  const seed = mod?.seedSampleData;
  if (typeof seed !== 'function') {
    logger.info('No sample-data seeder (infra/seed/sample-data) yet: skipped');
    return undefined;
  }
  return (await (seed as () => Promise<SampleData>)()) ?? undefined;
}

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { ADMIN_PG_URL, TEST_REDIS_URL, testSettings } from './test-env.js';
import { migrateAll } from '../../shared/db/migrate.js';

/**
 * One run = its own app and audit databases created from the migrations, and its own Redis key prefix.
 * Everything is dropped at teardown, so concurrent runs on one machine never see each other.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dbName = `ecom_test_${runId}`;
  const settings = testSettings(dbName, runId);

  const admin = new pg.Client({ connectionString: ADMIN_PG_URL });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  await admin.query(`create database "${dbName}_audit"`);
  await admin.end();

  await migrateAll({ app: settings.DATABASE_URL!, audit: settings.AUDIT_DATABASE_URL! });

  Object.assign(process.env, settings);
  project.provide('testSettings', settings);

  return async () => {
    const cleanup = new pg.Client({ connectionString: ADMIN_PG_URL });
    await cleanup.connect();
    await cleanup.query(`drop database if exists "${dbName}" with (force)`);
    await cleanup.query(`drop database if exists "${dbName}_audit" with (force)`);
    await cleanup.end();
    const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(
          cursor,
          'MATCH',
          `${settings.REDIS_KEY_PREFIX}*`,
          'COUNT',
          500,
        );
        cursor = next;
        if (found.length > 0) await redis.del(...found);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    testSettings: Record<string, string>;
  }
}

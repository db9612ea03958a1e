import { randomBytes } from 'node:crypto';

/** Where the machine's PostgreSQL superuser connection is (trust auth on loopback). */
export const ADMIN_PG_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

const b64 = (bytes: number): string => randomBytes(bytes).toString('base64url');

/** Settings for one test run: fresh secrets every run, so no test can depend on a fixed key. */
export function testSettings(dbName: string, runId: string): Record<string, string> {
  return {
    APP_ENV: 'test',
    DATABASE_URL: databaseUrl(dbName),
    AUDIT_DATABASE_URL: databaseUrl(`${dbName}_audit`),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: `test:${runId}:`,
    ADMIN_TOKEN: b64(32),
    JWT_SIGNING_KEYS: `k${runId.slice(0, 6)}:${b64(32)}`,
    FERNET_KEYS: randomBytes(32).toString('base64url') + '=',
    BLIND_INDEX_KEY: b64(32),
    CURSOR_SIGNING_KEYS: `c${runId.slice(0, 6)}:${b64(32)}`,
    STRIPE_SECRET_KEY: `sk_test_${b64(18)}`,
    STRIPE_WEBHOOK_SECRET: `whsec_${b64(24)}`,
    // Never the real Stripe from a test: a closed loopback port unless a test points it at the fake.
    STRIPE_API_BASE: 'http://127.0.0.1:9',
  };
}

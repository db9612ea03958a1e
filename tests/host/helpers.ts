import { randomUUID } from 'node:crypto';
import { consoleLogger, silentLogger } from '../../infra/host/log.js';
import type { HostOptions } from '../../infra/host/host.js';
import type { HostLogger } from '../../infra/host/types.js';

/** HOST_TEST_LOG=1 shows the host's output while debugging a test. */
export const testLogger: HostLogger =
  process.env.HOST_TEST_LOG === '1' ? consoleLogger({ debug: true }) : silentLogger;

/** Options every in-process host test shares: a free port, no local.settings.json, no embedded services. */
export function testHostOptions(overrides: HostOptions = {}): HostOptions {
  return {
    port: 0,
    localSettings: false,
    embedded: false,
    printFunctions: false,
    logger: testLogger,
    drainTimeoutMs: 5000,
    ...overrides,
  };
}

/** A task hub of its own per test file: test files run in parallel against one database. */
export const uniqueHub = (): string => `test${randomUUID().replace(/-/g, '').slice(0, 12)}`;

export async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 15_000, intervalMs = 25, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

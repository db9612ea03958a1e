import { defineConfig } from 'vitest/config';

// One run = one freshly migrated PostgreSQL database pair and one Redis key prefix (tests/setup/global.ts),
// so parallel runs on one machine never collide and nothing outlives the run.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/setup/global.ts'],
    setupFiles: ['tests/setup/env.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});

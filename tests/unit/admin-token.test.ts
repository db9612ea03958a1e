import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { adminTokenWeakness, ConfigurationError, parseSettings } from '../../shared/config/index.js';

const base = {
  DATABASE_URL: 'postgres://a@h/db',
  AUDIT_DATABASE_URL: 'postgres://a@h/audit',
  REDIS_URL: 'redis://h:6379',
};

function startUp(env: Record<string, string>): unknown {
  try {
    parseSettings(env);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('ADMIN_TOKEN strength in Azure (issue 19)', () => {
  it.each([
    ['too short', 'hunter2hunter2hunter2'],
    ['31 random characters', randomBytes(32).toString('base64url').slice(0, 31)],
    ['one character repeated', 'x'.repeat(64)],
    ['a placeholder', 'REPLACE_WITH_32_RANDOM_BYTES_BASE64URL'],
    ['a phrase with a word in it', 'my-super-long-admin-password-2026!'],
  ])('start-up refuses %s, naming the setting but never its value', (_label, token) => {
    const error = startUp({ ...base, APP_ENV: 'azure', ADMIN_TOKEN: token });
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).problems.join()).toMatch(/^ADMIN_TOKEN: /);
    expect((error as Error).message).not.toContain(token);
  });

  it('accepts what the runbook generates (32 random bytes, base64url)', () => {
    const token = randomBytes(32).toString('base64url');
    expect(adminTokenWeakness(token)).toBeNull();
    expect(startUp({ ...base, APP_ENV: 'azure', ADMIN_TOKEN: token })).toBeUndefined();
  });

  it('leaves local and test runs alone (their tokens are generated)', () => {
    expect(startUp({ ...base, APP_ENV: 'local', ADMIN_TOKEN: 'short' })).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigurationError, parseSettings } from '../../shared/config/index.js';

describe('settings', () => {
  const valid = {
    DATABASE_URL: 'postgres://a@h/db',
    AUDIT_DATABASE_URL: 'postgres://a@h/audit',
    REDIS_URL: 'redis://h:6379',
  };

  it('apply defaults', () => {
    const s = parseSettings(valid);
    expect(s.TRUSTED_PROXY_HOPS).toBe(0);
    expect(s.CHECKOUT_PAYMENT_TIMEOUT_SECONDS).toBe(900);
  });

  it('treat empty values as unset, so the example settings file parses', () => {
    const example = JSON.parse(
      readFileSync(path.resolve(__dirname, '../../local.settings.example.json'), 'utf8'),
    ) as {
      Values: Record<string, string>;
    };
    const s = parseSettings(example.Values);
    expect(s.KEY_VAULT_URL).toBeUndefined();
    expect(s.APP_ENV).toBe('local');
  });

  it('stop start-up naming every missing or invalid setting, without echoing values', () => {
    try {
      parseSettings({
        ...valid,
        DATABASE_URL: 'mysql://secret-password@h',
        REDIS_URL: undefined,
        TRUSTED_PROXY_HOPS: 'x',
      });
      expect.fail('should throw');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      const message = (error as Error).message;
      expect(message).toContain('DATABASE_URL');
      expect(message).toContain('REDIS_URL');
      expect(message).toContain('TRUSTED_PROXY_HOPS');
      expect(message).not.toContain('secret-password');
    }
  });
});

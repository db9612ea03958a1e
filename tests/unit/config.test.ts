import { describe, expect, it } from 'vitest';
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

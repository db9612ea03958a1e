import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  REFRESH_TOKEN_TTL_SECONDS,
  hashRefreshToken,
  newRefreshToken,
} from '../../../shared/services/auth/refresh-tokens.js';

describe('refresh tokens', () => {
  it('are 256 random bits as 43 base64url characters, never repeating', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => newRefreshToken()));
    expect(tokens.size).toBe(1000);
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    }
  });

  it('are stored as their SHA-256 in hex', () => {
    const token = newRefreshToken();
    expect(hashRefreshToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hashRefreshToken(token)).not.toContain(token);
  });

  it('live 7 days', () => {
    expect(REFRESH_TOKEN_TTL_SECONDS).toBe(604_800);
  });
});

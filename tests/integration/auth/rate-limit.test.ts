import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { changePassword, login } from '../../../functions/auth.js';
import { closeRedis, getRedis } from '../../../shared/cache/redis.js';
import { resetSettingsForTests } from '../../../shared/config/index.js';
import { closeOrms } from '../../../shared/db/orm.js';
import { RateLimitedException } from '../../../shared/errors/index.js';
import type { Logger } from '../../../shared/logging/logger.js';
import { closePasswordHasher, getPasswordHasher } from '../../../shared/services/auth/passwords.js';
import {
  LOGIN_RATE_LIMIT,
  LoginRateLimiter,
} from '../../../shared/services/rate-limit/login-rate-limiter.js';
import { addTelemetrySink } from '../../../shared/telemetry/index.js';
import { closeTestPool, createTenant } from '../../fixtures/sample_data.js';
import { STRONG_PASSWORD, call, freshIp, loginUser, registerUser } from './helpers.js';

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (...args: unknown[]) => lines.push(args.map(String).join(' '));
  return { lines, debug: push, info: push, warn: push, error: push };
}

describe('login rate limit: 10 attempts per client address per 15 minutes', () => {
  let tenantId: string;
  let email: string;

  beforeAll(async () => {
    tenantId = (await createTenant('Rate limit shop')).id;
    email = (await registerUser(tenantId)).input.email;
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await closeOrms();
    await closeRedis();
    await closePasswordHasher();
    await closeTestPool();
  });

  it('answers the 11th attempt with 429 and Retry-After, before any password work', async () => {
    const ip = freshIp();
    for (let i = 0; i < 10; i += 1) {
      expect((await loginUser(tenantId, email, `wrong password ${i}`, ip)).status).toBe(401);
    }
    const verify = vi.spyOn(getPasswordHasher(), 'verify');
    const blocked = await loginUser(tenantId, email, STRONG_PASSWORD, ip);
    expect(blocked.status).toBe(429);
    expect(verify).not.toHaveBeenCalled();
    verify.mockRestore();
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(blocked.headers.get('content-type')).toBe('application/problem+json');
    // Another client is unaffected.
    expect((await loginUser(tenantId, email, STRONG_PASSWORD, freshIp())).status).toBe(200);
  });

  it('counts successful attempts too, and a success does not reset the count', async () => {
    const ip = freshIp();
    for (let i = 0; i < 5; i += 1) {
      expect((await loginUser(tenantId, email, 'wrong password!', ip)).status).toBe(401);
      expect((await loginUser(tenantId, email, STRONG_PASSWORD, ip)).status).toBe(200);
    }
    expect((await loginUser(tenantId, email, STRONG_PASSWORD, ip)).status).toBe(429);
  });

  it('keeps the count in Redis, under the app’s key prefix, expiring with the window', async () => {
    const ip = freshIp();
    await loginUser(tenantId, email, 'wrong password!', ip);
    const key = `${LOGIN_RATE_LIMIT.keyPrefix}:${ip}`;
    const redis = getRedis();
    expect(await redis.get(key)).toBe('1');
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(15 * 60 - 10);
    expect(ttl).toBeLessThanOrEqual(15 * 60);
    // The prefix is the run's REDIS_KEY_PREFIX: nothing outside it was written.
    const raw = new Redis(process.env.REDIS_URL!);
    try {
      expect(await raw.exists(`${process.env.REDIS_KEY_PREFIX}${key}`)).toBe(1);
    } finally {
      raw.disconnect();
    }
  });

  it('ignores a forged X-Forwarded-For when no proxy is trusted', async () => {
    const ip = freshIp();
    for (let i = 0; i < 10; i += 1) {
      const res = await call(login, 'POST', 'auth/login', {
        tenantId,
        ip,
        headers: { 'x-forwarded-for': freshIp() },
        body: { email, password: 'wrong password!' },
      });
      expect(res.status).toBe(401);
    }
    const res = await call(login, 'POST', 'auth/login', {
      tenantId,
      ip,
      headers: { 'x-forwarded-for': freshIp() },
      body: { email, password: STRONG_PASSWORD },
    });
    expect(res.status).toBe(429);
  });

  it('with one trusted proxy, keys on the address that proxy saw, not on what the client prepended', async () => {
    process.env.TRUSTED_PROXY_HOPS = '1';
    resetSettingsForTests();
    try {
      const client = freshIp();
      const attempt = (password: string) =>
        call(login, 'POST', 'auth/login', {
          tenantId,
          ip: '192.0.2.1', // the proxy's own address: the same for every client
          headers: { 'x-forwarded-for': `${freshIp()}, ${client}` },
          body: { email, password },
        });
      for (let i = 0; i < 10; i += 1) expect((await attempt('wrong password!')).status).toBe(401);
      expect((await attempt(STRONG_PASSWORD)).status).toBe(429);
    } finally {
      delete process.env.TRUSTED_PROXY_HOPS;
      resetSettingsForTests();
    }
  });

  it('counts password-change guesses against the same budget', async () => {
    const ip = freshIp();
    const reg = await registerUser(tenantId);
    const session = await loginUser(tenantId, reg.input.email, STRONG_PASSWORD, ip); // attempt 1
    const guess = () =>
      call(changePassword, 'POST', 'auth/password', {
        ip,
        headers: { authorization: `Bearer ${session.json.accessToken}` },
        body: { currentPassword: 'a wrong guess!!', newPassword: 'another passphrase' },
      });
    for (let i = 0; i < 9; i += 1) expect((await guess()).status).toBe(403);
    expect((await guess()).status).toBe(429);
  });

  it('shares one budget between instances (two limiters on one Redis)', async () => {
    const ip = freshIp();
    const log = recordingLogger();
    const a = new LoginRateLimiter(() => getRedis());
    const b = new LoginRateLimiter(() => getRedis());
    for (let i = 0; i < 5; i += 1) {
      expect((await a.consume(ip, log)).source).toBe('redis');
      expect((await b.consume(ip, log)).source).toBe('redis');
    }
    await expect(a.consume(ip, log)).rejects.toBeInstanceOf(RateLimitedException);
    await expect(b.consume(ip, log)).rejects.toBeInstanceOf(RateLimitedException);
  });

  it('keys IPv6 clients by their /64, so rotating addresses within it does not help', async () => {
    const limiter = new LoginRateLimiter(() => getRedis());
    const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:1`;
    for (let i = 0; i < 10; i += 1)
      await limiter.consume(`${prefix}::${(i + 1).toString(16)}`, recordingLogger());
    await expect(limiter.consume(`${prefix}:ffff:ffff:ffff:ffff`, recordingLogger())).rejects.toBeInstanceOf(
      RateLimitedException,
    );
  });

  it('keeps limiting per instance when Redis is unreachable, and says so in logs and telemetry', async () => {
    const dead = new Redis('redis://127.0.0.1:1', {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 200,
      retryStrategy: () => 1000,
    });
    dead.on('error', () => undefined);
    const events: string[] = [];
    const detach = addTelemetrySink({
      event: (name) => events.push(name),
      metric: () => undefined,
    });
    const log = recordingLogger();
    try {
      const limiter = new LoginRateLimiter(() => dead);
      const ip = freshIp();
      const started = Date.now();
      for (let i = 0; i < 10; i += 1) expect((await limiter.consume(ip, log)).source).toBe('memory-fallback');
      await expect(limiter.consume(ip, log)).rejects.toBeInstanceOf(RateLimitedException);
      // Failing over is fast (no offline queue): the outage does not stall logins.
      expect(Date.now() - started).toBeLessThan(2000);
      expect(events.filter((e) => e === 'auth.rateLimit.storeUnavailable')).toHaveLength(11);
      // One warning, not one per attempt.
      expect(log.lines.filter((l) => l.includes('Redis unavailable'))).toHaveLength(1);
    } finally {
      detach();
      dead.disconnect();
    }
  });

  it('does not hand out a fresh budget when Redis fails mid-attack: the per-instance count was kept all along', async () => {
    let redisUp = true;
    const dead = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, lazyConnect: true });
    dead.on('error', () => undefined);
    const limiter = new LoginRateLimiter(() => (redisUp ? getRedis() : dead));
    const ip = freshIp();
    const log = recordingLogger();
    try {
      for (let i = 0; i < 8; i += 1) expect((await limiter.consume(ip, log)).source).toBe('redis');
      redisUp = false;
      expect((await limiter.consume(ip, log)).source).toBe('memory-fallback');
      expect((await limiter.consume(ip, log)).source).toBe('memory-fallback');
      await expect(limiter.consume(ip, log)).rejects.toBeInstanceOf(RateLimitedException);
    } finally {
      dead.disconnect();
    }
  });
});

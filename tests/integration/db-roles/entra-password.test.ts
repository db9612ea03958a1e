import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { AccessToken, TokenCredential } from '@azure/identity';
import {
  databasePassword,
  POSTGRES_ENTRA_SCOPE,
  REFRESH_BEFORE_MS,
  tokenPassword,
} from '../../../shared/db/database-auth.js';

/**
 * The Entra path of DATABASE_AUTH: the managed identity's access token is the PostgreSQL password,
 * fetched per new connection from a cache renewed before expiry. (The test server trusts loopback, so it
 * never asks for a password: what is proven here is what the pools would send, not the server's check.)
 */
class FakeCredential implements TokenCredential {
  calls: string[][] = [];
  issued = 0;
  constructor(
    private readonly clock: { now: number },
    private readonly lifetimeMs = 60 * 60_000,
  ) {}
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.calls.push([scopes].flat());
    await new Promise((r) => setTimeout(r, 5));
    this.issued += 1;
    return { token: `token-${this.issued}`, expiresOnTimestamp: this.clock.now + this.lifetimeMs };
  }
}

afterEach(() => {
  (pg.defaults as { password?: unknown }).password = null;
});

describe('Entra access token as the PostgreSQL password', () => {
  it('asks for the PostgreSQL scope once for concurrent connections and reuses the token', async () => {
    const clock = { now: 1_000_000 };
    const credential = new FakeCredential(clock);
    const password = tokenPassword(credential, () => clock.now);
    const tokens = await Promise.all([password(), password(), password()]);
    expect(tokens).toEqual(['token-1', 'token-1', 'token-1']);
    expect(credential.calls).toEqual([[POSTGRES_ENTRA_SCOPE]]);
    clock.now += 30 * 60_000;
    expect(await password()).toBe('token-1');
    expect(credential.issued).toBe(1);
  });

  it('renews the token before it expires, never handing out one about to lapse', async () => {
    const clock = { now: 0 };
    const credential = new FakeCredential(clock, 60 * 60_000);
    const password = tokenPassword(credential, () => clock.now);
    expect(await password()).toBe('token-1');
    clock.now = 60 * 60_000 - REFRESH_BEFORE_MS - 1;
    expect(await password()).toBe('token-1');
    clock.now += 2;
    expect(await password()).toBe('token-2');
  });

  it('tells MikroORM (knex) when to ask again through expirationChecker', async () => {
    const clock = { now: 0 };
    const password = tokenPassword(new FakeCredential(clock), () => clock.now);
    const first = await password.forOrm();
    expect(first.password).toBe('token-1');
    expect(first.expirationChecker()).toBe(false);
    clock.now = 60 * 60_000 - REFRESH_BEFORE_MS + 1;
    expect(first.expirationChecker()).toBe(true);
    expect((await password.forOrm()).password).toBe('token-2');
  });

  it('under entra auth every pg pool without its own password gets the token (pg.defaults)', async () => {
    const clock = { now: 0 };
    const password = tokenPassword(new FakeCredential(clock), () => clock.now);
    expect(databasePassword('password', () => password)).toBeUndefined();
    expect((pg.defaults as { password?: unknown }).password).toBeNull();
    expect(databasePassword('entra', () => password)).toBe(password);
    // A client built from a URL with no password, like the audit sink's pool, carries the function.
    const client = new pg.Client({ connectionString: 'postgres://id-ecom-dev@127.0.0.1:5432/ecommerce' });
    const carried = (client as unknown as { password: unknown }).password;
    expect(carried).toBe(password);
  });
});

import { describe, expect, it } from 'vitest';
import { SecretProvider } from '../../shared/secrets/provider.js';
import { KeyVaultSecretSource } from '../../shared/secrets/key-vault-source.js';
import type { SecretClientLike } from '../../shared/secrets/secret-source.js';
import { ConfigurationError } from '../../shared/config/index.js';

/** A stand-in for @azure/keyvault-secrets' SecretClient: counts reads, can rotate and fail. */
class FakeSecretClient implements SecretClientLike {
  values = new Map<string, string>([['stripe-secret-key', 'sk_test_v1']]);
  reads = 0;
  failing = false;
  async getSecret(name: string): Promise<{ value?: string }> {
    this.reads++;
    await new Promise((r) => setTimeout(r, 5));
    if (this.failing) throw Object.assign(new Error('vault unreachable'), { statusCode: 503 });
    const value = this.values.get(name);
    if (value === undefined)
      throw Object.assign(new Error('not found'), { statusCode: 404, code: 'SecretNotFound' });
    return { value };
  }
}

describe('SecretProvider over Key Vault', () => {
  it('maps setting names to Key Vault names and caches within the TTL', async () => {
    const client = new FakeSecretClient();
    let now = 0;
    const provider = new SecretProvider(new KeyVaultSecretSource(client), 1000, () => now);
    expect(await provider.get('STRIPE_SECRET_KEY')).toBe('sk_test_v1');
    now = 999;
    expect(await provider.get('STRIPE_SECRET_KEY')).toBe('sk_test_v1');
    expect(client.reads).toBe(1);
  });

  it('picks up a rotated secret after the TTL without a restart', async () => {
    const client = new FakeSecretClient();
    let now = 0;
    const provider = new SecretProvider(new KeyVaultSecretSource(client), 1000, () => now);
    await provider.get('STRIPE_SECRET_KEY');
    client.values.set('stripe-secret-key', 'sk_test_v2');
    now = 1001;
    // The first read after the TTL is served the known value at once and triggers the refresh.
    expect(await provider.get('STRIPE_SECRET_KEY')).toBe('sk_test_v1');
    await new Promise((r) => setTimeout(r, 20));
    expect(await provider.get('STRIPE_SECRET_KEY')).toBe('sk_test_v2');
    expect(client.reads).toBe(2);
  });

  it('shares one fetch among concurrent readers', async () => {
    const client = new FakeSecretClient();
    const provider = new SecretProvider(new KeyVaultSecretSource(client), 1000);
    const values = await Promise.all(Array.from({ length: 10 }, () => provider.get('STRIPE_SECRET_KEY')));
    expect(new Set(values)).toEqual(new Set(['sk_test_v1']));
    expect(client.reads).toBe(1);
  });

  it('serves the last known value while the vault is unreachable, and fails without one', async () => {
    const client = new FakeSecretClient();
    let now = 0;
    const provider = new SecretProvider(new KeyVaultSecretSource(client), 1000, () => now);
    await provider.get('STRIPE_SECRET_KEY');
    client.failing = true;
    now = 5000;
    const reads = client.reads;
    for (let i = 0; i < 5; i++) expect(await provider.get('STRIPE_SECRET_KEY')).toBe('sk_test_v1');
    await new Promise((r) => setTimeout(r, 20));
    // One failed refresh, then back-off for a TTL: the vault is not hammered during an outage.
    expect(await provider.get('STRIPE_SECRET_KEY')).toBe('sk_test_v1');
    expect(client.reads - reads).toBe(1);
    await expect(provider.get('ADMIN_TOKEN')).rejects.toThrow('vault unreachable');
  });

  it('gives up on a hung vault after the fetch timeout', async () => {
    const hung: SecretClientLike = { getSecret: () => new Promise(() => undefined) };
    const provider = new SecretProvider(new KeyVaultSecretSource(hung), 1000, Date.now, 60_000, 50);
    await expect(provider.get('ADMIN_TOKEN')).rejects.toThrow('timed out');
  });

  it('names a missing secret', async () => {
    const provider = new SecretProvider(new KeyVaultSecretSource(new FakeSecretClient()), 1000);
    await expect(provider.get('ADMIN_TOKEN')).rejects.toThrow(ConfigurationError);
    await expect(provider.get('ADMIN_TOKEN')).rejects.toThrow(/ADMIN_TOKEN/);
  });
});

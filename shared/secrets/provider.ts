import { ConfigurationError, getSettings } from '../config/index.js';
import type { SecretName } from '../config/settings.js';
import { createKeyVaultSource } from './key-vault-source.js';
import { EnvSecretSource } from './env-source.js';
import type { SecretSource } from './secret-source.js';

interface Entry {
  value: string;
  fetchedAt: number;
}

/**
 * Caches secrets for `ttlMs` so a rotated secret (Stripe keys rotate quarterly) is picked up without a
 * restart. Concurrent reads of one secret share one fetch. When a refresh fails, the last known value is
 * served (a Key Vault blip must not take checkout down) until `maxStaleMs`.
 */
export class SecretProvider {
  private readonly cache = new Map<SecretName, Entry>();
  private readonly inflight = new Map<SecretName, Promise<string>>();

  constructor(
    private readonly source: SecretSource,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxStaleMs = 24 * 3600_000,
    private readonly fetchTimeoutMs = 5_000,
  ) {}

  async get(name: SecretName): Promise<string> {
    const cached = this.cache.get(name);
    if (cached && this.now() - cached.fetchedAt < this.ttlMs) return cached.value;
    let pending = this.inflight.get(name);
    if (!pending) {
      pending = this.refresh(name, cached).finally(() => this.inflight.delete(name));
      this.inflight.set(name, pending);
    }
    // Stale-while-revalidate: once a value is known, no request waits on (or pays for) Key Vault; the
    // refreshed value is served as soon as it arrives.
    if (cached && this.now() - cached.fetchedAt < this.maxStaleMs) {
      pending.catch(() => undefined);
      return cached.value;
    }
    return pending;
  }

  /** Drops cached values, e.g. after a signature check failed with a key that may have rotated. */
  invalidate(name?: SecretName): void {
    if (name) this.cache.delete(name);
    else this.cache.clear();
  }

  private async refresh(name: SecretName, stale: Entry | undefined): Promise<string> {
    let value: string | undefined;
    try {
      value = await withTimeout(this.source.get(name), this.fetchTimeoutMs);
    } catch (error) {
      if (stale && this.now() - stale.fetchedAt < this.maxStaleMs) {
        // Back off: keep the stale value for another TTL before asking the vault again.
        this.cache.set(name, { value: stale.value, fetchedAt: this.now() });
        return stale.value;
      }
      throw error;
    }
    if (value === undefined) throw new ConfigurationError([`secret ${name} is not set`]);
    this.cache.set(name, { value, fetchedAt: this.now() });
    return value;
  }
}

let provider: SecretProvider | undefined;

export function getSecretProvider(): SecretProvider {
  if (!provider) {
    const settings = getSettings();
    const source = settings.KEY_VAULT_URL
      ? createKeyVaultSource(settings.KEY_VAULT_URL)
      : new EnvSecretSource();
    provider = new SecretProvider(source, settings.SECRET_CACHE_TTL_SECONDS * 1000);
  }
  return provider;
}

export function getSecret(name: SecretName): Promise<string> {
  return getSecretProvider().get(name);
}

export function resetSecretProviderForTests(): void {
  provider = undefined;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('secret read timed out')), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

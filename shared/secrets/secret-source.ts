import type { SecretName } from '../config/settings.js';

/** Where secret values come from: Key Vault in Azure, app settings elsewhere. */
export interface SecretSource {
  /** The current value, or undefined when the secret does not exist. */
  get(name: SecretName): Promise<string | undefined>;
}

/** The slice of `@azure/keyvault-secrets`' SecretClient we use (so tests can stand in for it). */
export interface SecretClientLike {
  getSecret(name: string): Promise<{ value?: string }>;
}

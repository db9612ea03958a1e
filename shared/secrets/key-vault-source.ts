import { SECRET_NAMES, type SecretName } from '../config/settings.js';
import type { SecretClientLike, SecretSource } from './secret-source.js';

function isNotFound(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    ((error as { statusCode?: number }).statusCode === 404 ||
      (error as { code?: string }).code === 'SecretNotFound')
  );
}

/** Reads secrets by their Key Vault names (`SECRET_NAMES`). */
export class KeyVaultSecretSource implements SecretSource {
  constructor(private readonly client: SecretClientLike) {}

  async get(name: SecretName): Promise<string | undefined> {
    try {
      const secret = await this.client.getSecret(SECRET_NAMES[name]);
      return secret.value;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

/** Builds the real client lazily so the Azure SDKs load only where Key Vault is configured. */
export function createKeyVaultSource(vaultUrl: string): KeyVaultSecretSource {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { SecretClient } = require('@azure/keyvault-secrets') as typeof import('@azure/keyvault-secrets');
  const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return new KeyVaultSecretSource(new SecretClient(vaultUrl, new DefaultAzureCredential()));
}

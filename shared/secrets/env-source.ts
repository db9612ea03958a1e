import type { SecretName } from '../config/settings.js';
import type { SecretSource } from './secret-source.js';

/** Secrets from app settings of the same name (local host, tests, or Key Vault references in Azure). */
export class EnvSecretSource implements SecretSource {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async get(name: SecretName): Promise<string | undefined> {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }
}

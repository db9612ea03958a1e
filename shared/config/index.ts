import { adminTokenWeakness } from './admin-token.js';
import { settingsRules, type Settings } from './settings.js';

export * from './settings.js';
export * from './admin-token.js';

export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigurationError';
  }
}

/** Parses settings; a missing or invalid one throws naming it (the message never contains values). */
export function parseSettings(env: NodeJS.ProcessEnv): Settings {
  // An empty app setting means "not set" (local.settings.json templates, cleared portal values).
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = settingsRules.safeParse(present);
  if (!result.success) {
    throw new ConfigurationError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  // In Azure the Key Vault reference is resolved into the environment when the app starts: a weak
  // ADMIN_TOKEN stops the app here, like any invalid setting (the vault copy is checked again on use).
  if (result.data.APP_ENV === 'azure' && present.ADMIN_TOKEN !== undefined) {
    const weakness = adminTokenWeakness(present.ADMIN_TOKEN);
    if (weakness) throw new ConfigurationError([`ADMIN_TOKEN: ${weakness}`]);
  }
  return result.data;
}

let cached: Settings | undefined;

/** The process-wide settings, parsed on first use. */
export function getSettings(): Settings {
  cached ??= parseSettings(process.env);
  return cached;
}

/** For tests and the local host, which set the environment before functions load. */
export function resetSettingsForTests(): void {
  cached = undefined;
}

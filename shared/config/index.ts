import { settingsRules, type Settings } from './settings.js';

export * from './settings.js';

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

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isPlaceholder } from './local-settings.js';

const b64url = (bytes: number): string => randomBytes(bytes).toString('base64url');

/** Generators for the secrets a fresh clone lacks; formats match what shared/ parses. */
export const LOCAL_SECRET_GENERATORS: Record<string, () => string> = {
  ADMIN_TOKEN: () => b64url(32),
  JWT_SIGNING_KEYS: () => `local1:${b64url(32)}`,
  // A Fernet key is URL-safe base64 of 32 bytes, padded (44 characters).
  FERNET_KEYS: () => `${b64url(32)}=`,
  BLIND_INDEX_KEY: () => b64url(32),
  CURSOR_SIGNING_KEYS: () => `local1:${b64url(32)}`,
};

export const STRIPE_SECRET_GENERATORS: Record<string, () => string> = {
  STRIPE_SECRET_KEY: () => `sk_test_local_${b64url(18)}`,
  STRIPE_WEBHOOK_SECRET: () => `whsec_${b64url(24)}`,
};

/**
 * Generated-once local secrets in `.local/secrets.json` (mode 0600). Reused on every start so tokens,
 * encrypted PII and blind indexes written by a previous run stay readable.
 */
export class LocalSecrets {
  readonly file: string;
  #values: Record<string, string>;

  constructor(localDir: string) {
    this.file = path.join(localDir, 'secrets.json');
    this.#values = existsSync(this.file)
      ? (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string>)
      : {};
  }

  /** The stored value, generated (and saved) the first time it is asked for. */
  get(name: string, generate: () => string): string {
    let value = this.#values[name];
    if (!value) {
      value = generate();
      this.#values[name] = value;
      this.#save();
    }
    return value;
  }

  #save(): void {
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileSync(this.file, `${JSON.stringify(this.#values, null, 2)}\n`, { mode: 0o600 });
    chmodSync(this.file, 0o600); // writeFileSync's mode only applies when it creates the file
  }
}

/** Sets each absent (or placeholder) secret from the store; returns the names it filled in. */
export function applyLocalSecrets(
  env: NodeJS.ProcessEnv,
  secrets: LocalSecrets,
  generators: Record<string, () => string>,
): string[] {
  const filled: string[] = [];
  for (const [name, generate] of Object.entries(generators)) {
    if (env[name] && !isPlaceholder(env[name])) continue;
    env[name] = secrets.get(name, generate);
    filled.push(name);
  }
  return filled;
}

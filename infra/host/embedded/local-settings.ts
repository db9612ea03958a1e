import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Applies `local.settings.json` "Values" the way `func start` does — without overriding variables the
 * process already has. Two deliberate differences: empty values are skipped (they would make optional
 * URL settings invalid, and "absent" is what they mean), and template placeholders
 * (`REPLACE_…`) are skipped so the embedded default takes over; both are reported.
 */
export function applyLocalSettings(
  root: string,
  env: NodeJS.ProcessEnv,
): { file: string | undefined; applied: string[]; skipped: string[] } {
  const file = path.join(root, 'local.settings.json');
  if (!existsSync(file)) return { file: undefined, applied: [], skipped: [] };
  const json = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> };
  const applied: string[] = [];
  const skipped: string[] = [];
  for (const [key, raw] of Object.entries(json.Values ?? {})) {
    if (env[key] !== undefined && env[key] !== '') continue;
    const value = raw === null || raw === undefined ? '' : String(raw);
    if (value === '' || isPlaceholder(value)) {
      if (value !== '') skipped.push(key);
      continue;
    }
    env[key] = value;
    applied.push(key);
  }
  return { file, applied, skipped };
}

/** The example file's "REPLACE_WITH_…" values are not secrets anyone meant to use. */
export function isPlaceholder(value: string | undefined): boolean {
  return value !== undefined && /REPLACE/.test(value);
}

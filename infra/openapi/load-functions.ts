import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every function module under `dir` (what package.json's `main` glob loads), in a stable order. */
export function functionModules(dir: string, extension: '.js' | '.ts'): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...functionModules(full, extension));
    else if (entry.endsWith(extension) && !entry.endsWith('.d.ts') && !entry.endsWith('.test.ts'))
      out.push(full);
  }
  return out;
}

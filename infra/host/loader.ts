import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * What to load: a glob or file path relative to the app root (as package.json "main" says), or a loader
 * function (tests pass `() => import('./fixtures/x.js')` so vitest compiles the TypeScript fixture).
 */
export type ModuleSource = string | (() => unknown);

/** Walks up from `start` to the first directory with a package.json (the app root). */
export function findAppRoot(start: string): string {
  let dir = path.resolve(start);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json found above ${start}`);
    dir = parent;
  }
}

/** The package.json "main" entry (a glob in the v4 programming model), as a list. */
export function mainEntries(root: string): string[] {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { main?: unknown };
  if (typeof pkg.main === 'string') return [pkg.main];
  if (Array.isArray(pkg.main)) return pkg.main.filter((m): m is string => typeof m === 'string');
  throw new Error('package.json has no "main" entry: the Functions worker would not know what to load');
}

function escapeRegex(text: string): string {
  return text.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

/** Translates the glob subset the worker's "main" supports in practice: `**`, `*`, `?`, `{a,b}`. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      out += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else if (ch === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) throw new Error(`Unbalanced "{" in glob ${glob}`);
      out += `(?:${glob
        .slice(i + 1, end)
        .split(',')
        .map((alt) => escapeRegex(alt))
        .join('|')})`;
      i = end;
    } else out += escapeRegex(ch);
  }
  return new RegExp(`^${out}$`);
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.isFile()) out.push(full);
  }
}

/** Files under `root` matching `pattern` (relative, forward slashes), sorted for a stable load order. */
export function expandGlob(root: string, pattern: string): string[] {
  const normalized = pattern.replace(/\\/g, '/').replace(/^\.\//, '');
  if (!/[*?{]/.test(normalized)) {
    const file = path.resolve(root, normalized);
    return existsSync(file) && statSync(file).isFile() ? [file] : [];
  }
  // Only walk below the literal prefix ("dist/functions" for "dist/functions/**/*.js").
  const firstGlob = normalized.search(/[*?{]/);
  const base = normalized.slice(0, normalized.lastIndexOf('/', firstGlob) + 1);
  const baseDir = path.resolve(root, base || '.');
  if (!existsSync(baseDir)) return [];
  const files: string[] = [];
  walk(baseDir, files);
  const matcher = globToRegExp(normalized);
  return files.filter((file) => matcher.test(path.relative(root, file).split(path.sep).join('/'))).sort();
}

export interface LoadReport {
  files: string[];
}

/**
 * Loads function modules in order. Each `require` runs the module's `app.*` calls, which reach the
 * stand-in core API; a module that throws stops the host, naming the file (the worker does the same).
 */
export async function loadFunctionModules(
  root: string,
  sources: readonly ModuleSource[],
): Promise<LoadReport> {
  const requireFromApp = createRequire(path.join(root, 'package.json'));
  const files: string[] = [];
  for (const source of sources) {
    if (typeof source === 'function') {
      await source();
      continue;
    }
    const matches = expandGlob(root, source);
    if (matches.length === 0)
      throw new Error(`No files match "${source}" under ${root} — run "npm run build"?`);
    for (const file of matches) {
      try {
        requireFromApp(file);
      } catch (error) {
        throw new Error(`Worker was unable to load function module ${path.relative(root, file)}`, {
          cause: error,
        });
      }
      files.push(file);
    }
  }
  return { files };
}

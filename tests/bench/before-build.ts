import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Another commit of this repository, compiled, for a benchmark to run beside the working tree: the
 * commit's files are exported with `git archive` into the system temp directory (nothing in the
 * repository's worktree list or index changes), this tree's node_modules is linked in, and `tsc`
 * builds its dist/. The build is kept under the commit id and reused by later runs from the same tree.
 *
 * Linking node_modules is only honest when the commit's dependencies are the ones installed here: every
 * package the commit's package.json names must be installed at the same version (packages added since
 * are harmless: the older code does not import them). Otherwise the build refuses rather than measure
 * the older code on newer libraries.
 */

const run = promisify(execFile);

export interface BuiltCommit {
  /** Directory holding the commit's files and its compiled dist/. */
  root: string;
  commit: string;
  subject: string;
  /** The build of an earlier run was reused. */
  reused: boolean;
  /** The commit's app was built with this tree's local host (infra/host) in place of its own. */
  onThisHost: boolean;
}

/** The local host is the stand-in for the Functions platform: `infra/host` of the working tree. */
const HOST_DIR = path.join('infra', 'host');

/** A digest of a tree's infra/host files (default this tree's), naming a build that carries them. */
export async function hostDigest(root = '.'): Promise<string> {
  const hash = createHash('sha256');
  const dir = path.join(root, HOST_DIR);
  const entries = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  for (const file of entries) {
    hash.update(path.relative(dir, file)).update('\0');
    hash.update(await readFile(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 12);
}

/** Replaces the exported commit's infra/host with this tree's (nothing of the old host is left). */
export async function placeThisHost(root: string): Promise<void> {
  await rm(path.join(root, HOST_DIR), { recursive: true, force: true });
  await cp(HOST_DIR, path.join(root, HOST_DIR), { recursive: true });
}

type Deps = Record<string, string>;
interface PackageJson {
  dependencies?: Deps;
  devDependencies?: Deps;
}

/** Packages the commit names at a version other than the one installed here ("name: then → now"). */
export function dependencyMismatches(then: PackageJson, now: PackageJson): string[] {
  const installed: Deps = { ...now.dependencies, ...now.devDependencies };
  return Object.entries({ ...then.dependencies, ...then.devDependencies })
    .filter(([name, version]) => installed[name] !== version)
    .map(([name, version]) => `${name}: ${version} → ${installed[name] ?? 'not installed'}`);
}

async function git(args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** `git archive <commit> | tar -x -C <dir>`, without a shell. */
async function exportCommit(commit: string, dir: string): Promise<void> {
  const archive = spawn('git', ['archive', '--format=tar', commit], { stdio: ['ignore', 'pipe', 'inherit'] });
  const tar = spawn('tar', ['-x', '-C', dir], { stdio: ['pipe', 'ignore', 'inherit'] });
  archive.stdout.pipe(tar.stdin);
  const exit = (p: ReturnType<typeof spawn>, name: string): Promise<void> =>
    new Promise((resolve, reject) =>
      p.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`)))),
    );
  await Promise.all([exit(archive, 'git archive'), exit(tar, 'tar')]);
}

/** Prints elapsed time and an ETA from the previous build's duration (stderr) until stopped. */
function heartbeat(label: string, expectedSeconds: number | undefined): () => void {
  const started = Date.now();
  const print = (): void => {
    const elapsed = (Date.now() - started) / 1000;
    const eta =
      expectedSeconds === undefined
        ? 'ETA unknown (first build here; a few minutes on 2 busy cores)'
        : `ETA ${Math.max(0, expectedSeconds - elapsed).toFixed(0)}s (the last build took ${expectedSeconds.toFixed(0)}s)`;
    process.stderr.write(`\r${label}: ${elapsed.toFixed(0)}s ${eta}   `);
  };
  print();
  const timer = setInterval(print, 2000);
  return () => {
    clearInterval(timer);
    print();
    process.stderr.write('\n');
  };
}

/**
 * Exports and compiles `rev` (any commit-ish) once; later calls with the same commit reuse the build.
 * With `onThisHost`, this tree's infra/host replaces the commit's before compiling: the commit's app
 * then runs on the same local host as this tree's, as two versions of an app run on the same Functions
 * platform in Azure (the host is not part of the app). A commit whose code that host cannot compile
 * against is refused with the compiler's message.
 */
export async function buildCommit(
  rev: string,
  log: (line: string) => void,
  { onThisHost = false }: { onThisHost?: boolean } = {},
): Promise<BuiltCommit> {
  const commit = await git(['rev-parse', '--verify', `${rev}^{commit}`]);
  const subject = await git(['log', '-1', '--format=%s', commit]);
  const host = onThisHost ? await hostDigest() : undefined;
  const root = path.join(
    tmpdir(),
    `ecommerce-api-bench-${commit.slice(0, 12)}${host ? `-host-${host}` : ''}`,
  );
  const marker = path.join(root, '.bench-built');
  // The build links one tree's node_modules: another tree (or a removed worktree) builds afresh.
  const stamp = `${commit}\n${path.resolve('node_modules')}\n${host ?? ''}\n`;
  if (existsSync(marker) && (await readFile(marker, 'utf8')) === stamp)
    return { root, commit, subject, reused: true, onThisHost };

  const then = JSON.parse(await git(['show', `${commit}:package.json`])) as PackageJson;
  const now = JSON.parse(await readFile('package.json', 'utf8')) as PackageJson;
  const mismatches = dependencyMismatches(then, now);
  if (mismatches.length > 0)
    throw new Error(
      `${commit.slice(0, 7)} needs other dependency versions than the ones installed here, so this ` +
        `tree's node_modules cannot build it honestly:\n  ${mismatches.join('\n  ')}`,
    );

  log(`building ${commit.slice(0, 7)} ("${subject}") in ${root}`);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  await exportCommit(commit, root);
  if (onThisHost) await placeThisHost(root);
  await symlink(path.resolve('node_modules'), path.join(root, 'node_modules'), 'dir');

  const timing = path.join(tmpdir(), 'ecommerce-api-bench-build-seconds');
  const expected = existsSync(timing) ? Number(await readFile(timing, 'utf8')) : undefined;
  const stop = heartbeat(`  tsc -p tsconfig.build.json (${commit.slice(0, 7)})`, expected);
  const started = Date.now();
  try {
    await run(
      process.execPath,
      [path.resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: root,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
  } catch (error) {
    const out = (error as { stdout?: string }).stdout ?? '';
    throw new Error(`tsc failed in ${root}:\n${out.slice(0, 4000)}`, { cause: error });
  } finally {
    stop();
  }
  await writeFile(timing, String((Date.now() - started) / 1000));
  await writeFile(marker, stamp);
  return { root, commit, subject, reused: false, onThisHost };
}

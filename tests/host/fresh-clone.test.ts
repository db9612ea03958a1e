import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/azurite.js';

/**
 * `git clone` into a private directory (0700, like /root) then `npm install && npm start`. As root the
 * embedded PostgreSQL runs as the `postgres` user, who cannot traverse that directory: neither the data
 * nor the binaries under node_modules may stay there. As another user the same clone must start too.
 *
 * The clone gets this checkout's node_modules and dist as hard links (copies across file systems): what
 * `npm install` and `npm run build` would put there, without the registry (no network in tests) and
 * without a second compile. The start is `npm start`'s own command, with nothing configured, so every
 * embedded default runs (PostgreSQL, Azurite, fake Stripe, secrets, migrations, sample data).
 */

const root = path.resolve(__dirname, '..', '..');
const isRoot = process.getuid?.() === 0;
const cleanup: string[] = [];

afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

function linkTree(from: string, to: string): void {
  try {
    execFileSync('cp', ['-al', from, to], { stdio: 'pipe' });
  } catch {
    rmSync(to, { recursive: true, force: true });
    execFileSync('cp', ['-a', from, to], { stdio: 'pipe' });
  }
}

describe(`a fresh clone in a private directory (as ${isRoot ? 'root' : 'a normal user'})`, () => {
  it('starts with every embedded default: the ready line, then GET /api/health 200', async () => {
    const compiled = path.join(root, 'dist', 'infra', 'host', 'cli.js');
    if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run "npm run build" first`);
    const home = mkdtempSync(path.join(tmpdir(), 'fresh-clone-home-'));
    cleanup.push(home);
    chmodSync(home, 0o700);
    // The host's own temp files (as root: the data and the binaries' copy) go here, to be removed after.
    const scratch = mkdtempSync(path.join(tmpdir(), 'fresh-clone-tmp-'));
    cleanup.push(scratch);
    chmodSync(scratch, 0o755);

    const clone = path.join(home, 'ecommerce-api');
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, clone], { stdio: 'pipe' });
    linkTree(path.join(root, 'node_modules'), path.join(clone, 'node_modules'));
    linkTree(path.join(root, 'dist'), path.join(clone, 'dist'));
    expect(statSync(home).mode & 0o777).toBe(0o700);

    const child = spawn(
      process.execPath,
      ['dist/infra/host/cli.js', '--port', '0', '--ready-json', '--no-local-settings'],
      {
        cwd: clone,
        // Nothing configured: no DATABASE_URL, REDIS_URL… from this test run.
        env: {
          PATH: process.env.PATH,
          HOME: home,
          TMPDIR: scratch,
          EMBEDDED_POSTGRES_PORT: String(await freePort()),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    try {
      const ready = await new Promise<{ baseUrl: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready within 90 s:\n${output}`)), 90_000);
        child.stdout.on('data', () => {
          const line = output.split('\n').find((l) => l.startsWith('{"event":"host-ready"'));
          if (!line) return;
          clearTimeout(timer);
          resolve(JSON.parse(line) as { baseUrl: string });
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`the host exited (code ${code}) before it was ready:\n${output}`));
        });
      });
      const health = await fetch(`${ready.baseUrl}/health`);
      expect(health.status, output).toBe(200);
      expect(output).not.toMatch(/EACCES/);
      if (isRoot) expect(output).toContain('not reachable for the postgres user');
    } finally {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    expect(output).toContain('Host stopped');
  }, 150_000);
});

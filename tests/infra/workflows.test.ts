import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ADMIN_PG_URL } from '../setup/test-env.js';
import { ROOT } from './bicep.js';

interface Step {
  id?: string;
  if?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}

interface Job {
  if?: string;
  needs?: string | string[];
  services?: Record<string, { image: string; ports?: string[]; env?: Record<string, string> }>;
  steps: Step[];
  environment?: string;
}

interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

function load(name: string): Workflow {
  const file = path.join(ROOT, '.github', 'workflows', name);
  // yaml's parse throws on a syntax error, which fails the test with the line.
  return parse(readFileSync(file, 'utf8'), { strict: true, prettyErrors: true }) as Workflow;
}

/** The index of the first step whose `run` matches, or -1. */
function stepIndex(job: Job, pattern: RegExp): number {
  return job.steps.findIndex((step) => pattern.test(step.run ?? ''));
}

describe('.github/workflows/ci.yml', () => {
  const ci = load('ci.yml');
  const test = ci.jobs.test!;

  it('runs on pushes and pull requests', () => {
    expect(Object.keys(ci.on)).toEqual(expect.arrayContaining(['push', 'pull_request']));
  });

  it('has PostgreSQL and Redis service containers on the ports the tests use', () => {
    expect(test.services?.postgres?.image).toMatch(/^postgres:\d+/);
    expect(test.services?.postgres?.ports).toContain('5432:5432');
    expect(test.services?.postgres?.env?.POSTGRES_HOST_AUTH_METHOD).toBe('trust');
    expect(test.services?.redis?.image).toMatch(/^redis:\d+/);
    expect(test.services?.redis?.ports).toContain('6379:6379');
  });

  it('uses Node 20 and installs, lints, typechecks and tests in that order', () => {
    const node = test.steps.find((step) => step.uses?.startsWith('actions/setup-node@'));
    expect(String(node?.with?.['node-version'])).toBe('20');
    const order = [/\bnpm ci\b/, /\bnpm run lint\b/, /\bnpm run typecheck\b/, /\bnpm test\b/].map((p) =>
      stepIndex(test, p),
    );
    expect(
      order.every((index) => index >= 0),
      `steps found at ${order.join(', ')}`,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('the scripts it calls exist in package.json', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const script of ['lint', 'typecheck', 'test', 'build']) expect(pkg.scripts).toHaveProperty(script);
  });

  it('compiles the Bicep templates with the real compiler', () => {
    expect(stepIndex(ci.jobs.bicep!, /az bicep build --file bicep\/main\.bicep/)).toBeGreaterThanOrEqual(0);
  });
});

describe('.github/workflows/deploy.yml', () => {
  const deploy = load('deploy.yml');
  const build = deploy.jobs.build!;
  const release = deploy.jobs.deploy!;

  it('deploys only commits whose CI passed (or a deliberate manual run)', () => {
    expect(deploy.on).toHaveProperty('workflow_dispatch');
    expect(deploy.on.workflow_run).toMatchObject({ workflows: ['ci'], types: ['completed'] });
    expect(load('ci.yml').name).toBe('ci');
    expect(build.if).toContain("github.event.workflow_run.conclusion == 'success'");
    for (const job of [build, release]) {
      const checkout = job.steps.find((step) => step.uses?.startsWith('actions/checkout@'));
      expect(checkout?.with?.ref).toBe('${{ github.event.workflow_run.head_sha || github.sha }}');
      // This repository's commit, never the head repository of whatever triggered CI.
      expect(checkout?.with?.repository).toBe('${{ github.repository }}');
    }
  });

  it("deploys only pushes to this repository's main: a fork's pull request from its `main` never runs", () => {
    // `branches: [main]` matches a head branch NAME: a fork's PR from its own main passes that filter.
    const condition = (build.if ?? '').replace(/\s+/g, ' ');
    const workflowRunPart = condition.split('||')[1] ?? '';
    for (const clause of [
      "github.event.workflow_run.conclusion == 'success'",
      "github.event.workflow_run.event == 'push'",
      "github.event.workflow_run.head_branch == 'main'",
      'github.event.workflow_run.head_repository.full_name == github.repository',
    ]) {
      expect(workflowRunPart, clause).toContain(clause);
    }
    expect(workflowRunPart).not.toContain('||');
    expect(condition.split('||')[0]).toContain("github.event_name == 'workflow_dispatch'");
    // The deploy job cannot run without the build job.
    expect(release.needs).toBe('build');
  });

  it("admits the runner's address to PostgreSQL only around the migration, and always removes it", () => {
    const open = stepIndex(release, /firewall-rule create/);
    const migrate = stepIndex(release, /migrate-cli\.js/);
    const close = stepIndex(release, /firewall-rule delete/);
    expect(open).toBeGreaterThanOrEqual(0);
    expect(migrate).toBeGreaterThan(open);
    expect(close).toBeGreaterThan(migrate);
    expect(release.steps[open]!.id).toBe('firewall');
    expect(release.steps[close]!.if).toMatch(/^always\(\)/);
    expect(release.steps[open]!.run).toMatch(/--rule-name "deploy-\$\{GITHUB_RUN_ID\}"/);
    expect(release.steps[close]!.run).toMatch(/--rule-name "deploy-\$\{GITHUB_RUN_ID\}"/);
  });

  it('builds and packages before deploying', () => {
    expect(release.needs).toBe('build');
    const buildAt = stepIndex(build, /\bnpm run build\b/);
    const packageAt = stepIndex(build, /zip -qr \.\.\/app\.zip/);
    expect(buildAt).toBeGreaterThanOrEqual(0);
    expect(packageAt).toBeGreaterThan(buildAt);
    // Production dependencies only, next to host.json and the compiled code.
    expect(build.steps[packageAt]!.run).toMatch(/npm ci --omit=dev/);
    expect(build.steps[packageAt]!.run).toMatch(/dist host\.json package\.json/);
  });

  it('logs in with OIDC (no stored Azure password)', () => {
    expect(deploy.permissions?.['id-token']).toBe('write');
    const login = release.steps.find((step) => step.uses?.startsWith('azure/login@'));
    expect(login?.with).toHaveProperty('client-id');
    expect(login?.with).not.toHaveProperty('creds');
  });

  it('provisions with az deployment group create from main.bicep and an existing parameters file', () => {
    const at = stepIndex(release, /az deployment group create/);
    expect(at).toBeGreaterThanOrEqual(0);
    const run = release.steps[at]!.run!;
    expect(run).toMatch(/--template-file bicep\/main\.bicep/);
    expect(run).toMatch(/@bicep\/parameters\/\$\{ENVIRONMENT\}\.parameters\.json/);
    for (const env of ['dev', 'prod']) {
      expect(existsSync(path.join(ROOT, 'bicep', 'parameters', `${env}.parameters.json`))).toBe(true);
    }
    // Secrets reach the deployment from the environment's secrets, never from the repository.
    expect(run).toMatch(/postgresAdminPassword="\$POSTGRES_ADMIN_PASSWORD"/);
    expect(release.steps[at]!.env?.POSTGRES_ADMIN_PASSWORD).toBe('${{ secrets.POSTGRES_ADMIN_PASSWORD }}');
  });

  it('migrates, then zip-deploys the package the Flex Consumption app runs from, then smoke-tests', () => {
    const provision = stepIndex(release, /az deployment group create/);
    const migrate = stepIndex(release, /migrate-cli\.js/);
    const zipDeploy = stepIndex(release, /az functionapp deployment source config-zip/);
    const smoke = stepIndex(release, /\/api\/health/);
    expect(provision).toBeGreaterThanOrEqual(0);
    expect(migrate).toBeGreaterThan(provision);
    expect(zipDeploy).toBeGreaterThan(migrate);
    expect(smoke).toBeGreaterThan(zipDeploy);
    expect(release.steps[zipDeploy]!.run).toMatch(/--src app\.zip/);
    expect(release.steps[zipDeploy]!.name).toMatch(/run from package/i);
  });

  it('never sets WEBSITE_RUN_FROM_PACKAGE (deprecated on Flex Consumption: it always runs from the package)', () => {
    const runs = release.steps.map((step) => step.run ?? '').join('\n');
    expect(runs).not.toMatch(/appsettings set/);
    expect(runs).not.toMatch(/WEBSITE_RUN_FROM_PACKAGE=/);
  });

  it("runs the migrate CLI with exactly the migrate step's environment: database settings suffice", async () => {
    // Runs dist/ (the packaged CLI, as the workflow does): `npm run build` first (`npm test` does).
    const step = release.steps.find((candidate) => /migrate-cli\.js/.test(candidate.run ?? ''))!;
    const env = step.env ?? {};
    expect(Object.keys(env)).not.toContain('REDIS_URL');
    expect(Object.keys(env)).not.toContain('APP_ENV');

    const tag = `ecom_w${randomBytes(4).toString('hex')}`;
    const admin = new URL(ADMIN_PG_URL);
    // What the workflow's expressions resolve to, pointed at this machine's server and scratch names.
    const expressions: Record<string, string> = {
      'vars.DEPLOYER_NAME': decodeURIComponent(admin.username) || 'postgres',
      'steps.infra.outputs.postgres_host': `${admin.hostname}${admin.port ? `:${admin.port}` : ''}`.replace(
        /:5432$/,
        '',
      ),
      'steps.infra.outputs.app_db': tag,
      'steps.infra.outputs.audit_db': `${tag}_audit`,
      'steps.infra.outputs.app_identity': `${tag}_identity`,
    };
    const resolved: Record<string, string> = {};
    for (const [key, value] of Object.entries(env)) {
      resolved[key] = String(value).replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_m, expression: string) => {
        const known = expressions[expression];
        if (known === undefined)
          throw new Error(`${key}: unknown expression ${expression} in the migrate step`);
        return known;
      });
    }
    // The only departures, each for a reason of this machine: a local server without TLS, role names
    // unique to this run (roles are cluster-wide), and no Entra token (the server trusts loopback).
    expect(resolved.PGSSLMODE).toBe('verify-full');
    resolved.PGSSLMODE = 'disable';
    for (const key of ['DATABASE_OWNER_ROLE', 'DATABASE_APP_ROLE', 'DATABASE_AUDIT_ROLE']) {
      expect(resolved[key], key).toMatch(/^ecom_/);
      resolved[key] = `${tag}_${resolved[key]!.slice('ecom_'.length)}`;
    }

    const line = step
      .run!.split('\n')
      .find((l) => l.includes('migrate-cli.js'))!
      .trim();
    const words = line.match(/"[^"]*"|\S+/g)!.map((w) => w.replace(/^"|"$/g, ''));
    const args = words.map((w) => w.replace(/\$([A-Z_]+)/g, (_m, name: string) => resolved[name] ?? ''));
    expect(args.slice(0, 2)).toEqual(['node', 'dist/infra/db/migrate-cli.js']);

    const client = new pg.Client({ connectionString: ADMIN_PG_URL });
    await client.connect();
    try {
      await client.query(`create database "${tag}"`);
      await client.query(`create database "${tag}_audit"`);
      await client.query(`create role "${resolved.APP_IDENTITY}" login`);
      const run = spawnSync(process.execPath, args.slice(1), {
        cwd: ROOT,
        // Exactly the step's variables (plus PATH): nothing of this test run's own settings leaks in.
        env: { PATH: process.env.PATH ?? '', ...resolved },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout).toMatch(/^app: 0001-initial, /m);
      expect(run.stdout).toMatch(/^audit: 0001-audit-log, 0002-audit-log-append-only$/m);
      const { rows } = await client.query<{ member: boolean }>(
        `select pg_has_role($1, $2, 'MEMBER') and pg_has_role($1, $3, 'MEMBER') as member`,
        [resolved.APP_IDENTITY, resolved.DATABASE_APP_ROLE, resolved.DATABASE_AUDIT_ROLE],
      );
      expect(rows[0]!.member).toBe(true);
    } finally {
      await client.query(`drop database if exists "${tag}" with (force)`);
      await client.query(`drop database if exists "${tag}_audit" with (force)`);
      for (const role of [
        resolved.APP_IDENTITY,
        resolved.DATABASE_APP_ROLE,
        resolved.DATABASE_AUDIT_ROLE,
        resolved.DATABASE_OWNER_ROLE,
      ]) {
        if (role) await client.query(`drop role if exists "${role}"`);
      }
      await client.end();
    }
  }, 90_000);
});

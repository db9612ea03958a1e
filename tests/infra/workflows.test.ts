import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from './bicep.js';

interface Step {
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
    }
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
});

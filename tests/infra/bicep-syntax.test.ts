import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BICEP_DIR,
  bicepFiles,
  modulePaths,
  parameters,
  parseBicep,
  parseBicepSource,
  resources,
  syntaxProblems,
} from './bicep.js';

// No Bicep compiler can run here (GUIDE §4). This parse catches syntax slips; CI's `az bicep build`
// and the pinned API versions below (copied from official samples, docs/adr/0090) cover the rest.
const files = bicepFiles();

/**
 * Every resource type the templates declare, with the API version chosen in
 * docs/adr/0090-infrastructure.md. A new type or a version bump must be a deliberate edit here and in
 * the ADR.
 */
const API_VERSIONS: Record<string, string> = {
  'Microsoft.ManagedIdentity/userAssignedIdentities': '2023-01-31',
  'Microsoft.OperationalInsights/workspaces': '2025-02-01',
  'Microsoft.Insights/components': '2020-02-02',
  'Microsoft.Storage/storageAccounts': '2024-01-01',
  'Microsoft.Storage/storageAccounts/blobServices': '2024-01-01',
  'Microsoft.Storage/storageAccounts/blobServices/containers': '2024-01-01',
  'Microsoft.Storage/storageAccounts/managementPolicies': '2024-01-01',
  'Microsoft.ServiceBus/namespaces': '2024-01-01',
  'Microsoft.ServiceBus/namespaces/queues': '2024-01-01',
  'Microsoft.KeyVault/vaults': '2023-07-01',
  'Microsoft.KeyVault/vaults/secrets': '2023-07-01',
  'Microsoft.DBforPostgreSQL/flexibleServers': '2024-08-01',
  'Microsoft.DBforPostgreSQL/flexibleServers/databases': '2024-08-01',
  'Microsoft.DBforPostgreSQL/flexibleServers/administrators': '2024-08-01',
  'Microsoft.Network/virtualNetworks': '2024-05-01',
  'Microsoft.Network/privateEndpoints': '2024-05-01',
  'Microsoft.Network/privateEndpoints/privateDnsZoneGroups': '2024-05-01',
  'Microsoft.Network/privateDnsZones': '2020-06-01',
  'Microsoft.Network/privateDnsZones/virtualNetworkLinks': '2020-06-01',
  'Microsoft.Cache/redisEnterprise': '2025-04-01',
  'Microsoft.Cache/redisEnterprise/databases': '2025-04-01',
  'Microsoft.Authorization/roleAssignments': '2022-04-01',
  'Microsoft.Web/serverfarms': '2024-04-01',
  'Microsoft.Web/sites': '2024-04-01',
  'Microsoft.Insights/actionGroups': '2023-01-01',
  'Microsoft.Insights/scheduledQueryRules': '2023-12-01',
  'Microsoft.Insights/metricAlerts': '2018-03-01',
  'Microsoft.Cdn/profiles': '2024-02-01',
  'Microsoft.Cdn/profiles/afdEndpoints': '2024-02-01',
  'Microsoft.Cdn/profiles/originGroups': '2024-02-01',
  'Microsoft.Cdn/profiles/originGroups/origins': '2024-02-01',
  'Microsoft.Cdn/profiles/afdEndpoints/routes': '2024-02-01',
  'Microsoft.Communication/emailServices': '2023-03-31',
  'Microsoft.Communication/emailServices/domains': '2023-03-31',
  'Microsoft.Communication/communicationServices': '2023-03-31',
};

describe('bicep syntax (tree-sitter-bicep)', () => {
  it('finds the main template and its modules', () => {
    expect(files.map((file) => path.relative(BICEP_DIR, file))).toContain('main.bicep');
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  it.each(files.map((file) => [path.relative(BICEP_DIR, file), file]))(
    '%s parses without ERROR or MISSING nodes',
    async (_name, file) => {
      expect(syntaxProblems(await parseBicep(file))).toEqual([]);
    },
  );

  it('reports a broken template with file:line (the check can fail)', async () => {
    const broken = "param ok string = 'x'\nresource r 'Microsoft.Web/sites@2024-04-01' = {\n  name: \n";
    const problems = syntaxProblems(await parseBicepSource(broken, path.join(BICEP_DIR, 'broken.bicep')));
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/^bicep\/broken\.bicep:\d+:\d+: (ERROR|MISSING)/);
  });

  it('every module path points at an existing file', async () => {
    for (const file of files) {
      for (const modulePath of modulePaths((await parseBicep(file)).root)) {
        expect(existsSync(path.resolve(path.dirname(file), modulePath)), `${file} → ${modulePath}`).toBe(
          true,
        );
      }
    }
  });

  it('every resource type uses the API version recorded in the ADR', async () => {
    const seen = new Set<string>();
    for (const file of files) {
      for (const resource of resources((await parseBicep(file)).root)) {
        if (!resource.type.includes('@')) continue; // nested child (`config`): inherits its parent's version
        const [type, version] = resource.type.split('@') as [string, string];
        seen.add(type);
        expect(API_VERSIONS[type], `${path.relative(BICEP_DIR, file)}: ${type} is not in the table`).toBe(
          version,
        );
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(API_VERSIONS).sort());
  });

  it('the ADR lists every pinned API version', () => {
    const adr = readFileSync(path.join(BICEP_DIR, '..', 'docs', 'adr', '0090-infrastructure.md'), 'utf8');
    for (const [type, version] of Object.entries(API_VERSIONS)) {
      expect(adr, type).toContain(`${type}@${version}`);
    }
  });
});

describe('parameter files', () => {
  const environments = ['dev', 'prod'];

  it.each(environments)('%s.parameters.json sets only parameters main.bicep declares', async (env) => {
    const main = parameters((await parseBicep(path.join(BICEP_DIR, 'main.bicep'))).root);
    const declared = new Map(main.map((param) => [param.name, param]));
    const file = JSON.parse(
      readFileSync(path.join(BICEP_DIR, 'parameters', `${env}.parameters.json`), 'utf8'),
    ) as { parameters: Record<string, { value: unknown }> };

    expect(file.parameters.environmentName?.value).toBe(env);
    for (const name of Object.keys(file.parameters)) {
      expect(declared.has(name), `${name} is not a parameter of main.bicep`).toBe(true);
      // Secrets never live in the repository: secure parameters come from pipeline secrets only.
      expect(declared.get(name)?.secure, `${name} is @secure()`).toBe(false);
    }
    // Required, non-secret parameters must be in the file; required secure ones come from the pipeline.
    for (const param of main.filter((p) => !p.hasDefault && !p.secure)) {
      expect(file.parameters, param.name).toHaveProperty(param.name);
    }
  });

  it('the secrets the code needs are secure parameters, never plain ones', async () => {
    const main = parameters((await parseBicep(path.join(BICEP_DIR, 'main.bicep'))).root);
    const secure = main.filter((p) => p.secure).map((p) => p.name);
    expect(secure).toEqual(
      expect.arrayContaining([
        'postgresAdminPassword',
        'adminToken',
        'stripeSecretKey',
        'stripeWebhookSecret',
        'jwtSigningKeys',
        'fernetKeys',
        'blindIndexKey',
        'pagerDutyWebhookUrl',
        'slackWebhookUrl',
      ]),
    );
  });
});

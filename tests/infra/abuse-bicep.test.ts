import path from 'node:path';
import type { Node } from 'web-tree-sitter';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BICEP_DIR,
  objectProperties,
  parseBicep,
  resources,
  stringLiteral,
  variableValue,
  type ParsedBicep,
} from './bicep.js';

/** Issue 19's infrastructure items, read from the templates (no Bicep compiler here: GUIDE §4). */
let roles: ParsedBicep;
let main: ParsedBicep;
let redis: ParsedBicep;

function prop(node: Node | undefined, key: string): Node | undefined {
  return node?.type === 'object' ? objectProperties(node).get(key) : undefined;
}

function assignments(): { symbol: string; scope: string; role: string; principal: string }[] {
  return resources(roles.root)
    .filter((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments@'))
    .map((r) => {
      const properties = prop(r.body, 'properties');
      return {
        symbol: r.symbol,
        scope: prop(r.body, 'scope')?.text ?? '',
        role: prop(properties, 'roleDefinitionId')?.text ?? '',
        principal: prop(properties, 'principalId')?.text ?? '',
      };
    });
}

beforeAll(async () => {
  roles = await parseBicep(path.join(BICEP_DIR, 'modules', 'role-assignments.bicep'));
  main = await parseBicep(path.join(BICEP_DIR, 'main.bicep'));
  redis = await parseBicep(path.join(BICEP_DIR, 'modules', 'redis.bicep'));
});

describe('storage roles of the app identity (issue 19)', () => {
  it('grants no blob data role on the whole account except the delegator (user-delegation keys only)', () => {
    const accountWide = assignments().filter((a) => a.scope === 'storage' && /storageBlob/.test(a.role));
    expect(accountWide.map((a) => a.role)).toEqual([
      "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDelegator)",
    ]);
  });

  it('scopes Blob Data Owner to named containers: the exports and the host’s own, never the package', () => {
    const owner = assignments().find((a) => /storageBlobDataOwner/.test(a.role));
    expect(owner?.scope).toBe('writableContainers[i]');
    const containers = variableValue(roles.root, 'appContainers');
    const names = containers ? containers.namedChildren.map((n) => stringLiteral(n) ?? n?.text) : [];
    expect(names).toContain('exportContainerName');
    expect(names).not.toContain('deploymentContainerName');
    expect(names.join()).not.toMatch(/deploy/);
  });

  it('lets the app only read the deployment container; another identity writes packages', () => {
    const onPackage = assignments().filter((a) => a.scope === 'deploymentContainer');
    expect(onPackage).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          principal: 'principalId',
          role: expect.stringMatching(/storageBlobDataReader\)$/),
        }),
        expect.objectContaining({
          principal: 'deployerPrincipalId',
          role: expect.stringMatching(/storageBlobDataContributor\)$/),
        }),
      ]),
    );
    expect(onPackage).toHaveLength(2);
    expect(main.source).toMatch(/deployerPrincipalId: deployIdentity\.outputs\.principalId/);
  });
});

describe('rate-limit counters (ADR 0021)', () => {
  it('live on a Redis of their own that never evicts', () => {
    expect(main.source).toMatch(
      /module rateLimitRedis 'modules\/redis\.bicep' = \{[\s\S]*?urlSecretName: 'rate-limit-redis-url'[\s\S]*?evictionPolicy: 'NoEviction'/,
    );
    const database = resources(redis.root).find((r) =>
      r.type.startsWith('Microsoft.Cache/redisEnterprise/databases@'),
    );
    expect(prop(prop(database?.body, 'properties'), 'evictionPolicy')?.text).toBe('evictionPolicy');
  });
});

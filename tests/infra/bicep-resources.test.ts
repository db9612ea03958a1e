import path from 'node:path';
import type { Node } from 'web-tree-sitter';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BICEP_DIR,
  objectProperties,
  parameters,
  parseBicep,
  resources,
  stringLiteral,
  variableValue,
  type ParsedBicep,
  type ResourceInfo,
} from './bicep.js';

// The properties issue 9 and the reference (Deployment Context, Monitoring) require, read from the
// parsed templates so a careless edit fails here rather than in a production incident.

const modules: Record<string, ParsedBicep> = {};

beforeAll(async () => {
  for (const name of [
    'function-app',
    'service-bus',
    'storage',
    'key-vault',
    'alerts',
    'action-groups',
    'front-door-routes',
    'role-assignments',
    'postgres',
    'redis',
  ]) {
    modules[name] = await parseBicep(path.join(BICEP_DIR, 'modules', `${name}.bicep`));
  }
  modules.main = await parseBicep(path.join(BICEP_DIR, 'main.bicep'));
});

function resourceOf(module: string, typePrefix: string, symbol?: string): ResourceInfo {
  const found = resources(modules[module]!.root).filter(
    (r) => r.type.startsWith(typePrefix) && !r.existing && (!symbol || r.symbol === symbol),
  );
  expect(found.length, `${module}: ${typePrefix} ${symbol ?? ''}`).toBe(1);
  return found[0]!;
}

/** The node at `a.b.c` inside an object literal. */
function at(node: Node | undefined, dotted: string): Node | undefined {
  let current = node;
  for (const key of dotted.split('.')) {
    if (!current || current.type !== 'object') return undefined;
    current = objectProperties(current).get(key);
  }
  return current;
}

/** A literal's value as text (strings unquoted), else the expression's source. */
function valueAt(node: Node | undefined, dotted: string): string | undefined {
  const found = at(node, dotted);
  return stringLiteral(found) ?? found?.text;
}

function defaultOf(module: string, param: string): string | undefined {
  const declaration = modules[module]!.root.namedChildren.find(
    (child) =>
      child?.type === 'parameter_declaration' &&
      child.namedChildren.find((part) => part?.type === 'identifier')?.text === param,
  );
  return declaration?.namedChildren.at(-1)?.text;
}

describe('Function App (Flex Consumption)', () => {
  it('is on an FC1 Flex Consumption Linux plan', () => {
    const plan = resourceOf('function-app', 'Microsoft.Web/serverfarms@');
    expect(valueAt(plan.body, 'sku.name')).toBe('FC1');
    expect(valueAt(plan.body, 'sku.tier')).toBe('FlexConsumption');
    expect(valueAt(plan.body, 'properties.reserved')).toBe('true');
  });

  it('runs Node 20 from the deployment container with the user-assigned identity', () => {
    const site = resourceOf('function-app', 'Microsoft.Web/sites@');
    expect(valueAt(site.body, 'kind')).toBe('functionapp,linux');
    expect(valueAt(site.body, 'identity.type')).toBe('UserAssigned');
    const config = at(site.body, 'properties.functionAppConfig');
    expect(valueAt(config, 'runtime.name')).toBe('node');
    expect(valueAt(config, 'runtime.version')).toBe('20');
    expect(valueAt(config, 'deployment.storage.type')).toBe('blobContainer');
    expect(valueAt(config, 'deployment.storage.authentication.type')).toBe('UserAssignedIdentity');
    // The deployer identity writes packages; the app's own identity only reads them (issue 19).
    expect(valueAt(config, 'deployment.storage.authentication.userAssignedIdentityResourceId')).toBe(
      'deployIdentityId',
    );
    expect(valueAt(config, 'scaleAndConcurrency.maximumInstanceCount')).toBe('maximumInstanceCount');
    expect(valueAt(site.body, 'properties.keyVaultReferenceIdentity')).toBe('identityId');
    expect(valueAt(site.body, 'properties.httpsOnly')).toBe('true');
  });
});

describe('Service Bus', () => {
  it('authenticates with Entra ID only', () => {
    const namespace = resourceOf('service-bus', 'Microsoft.ServiceBus/namespaces@');
    expect(valueAt(namespace.body, 'properties.disableLocalAuth')).toBe('true');
    expect(valueAt(namespace.body, 'sku.name')).not.toBe('Basic'); // no duplicate detection on Basic
  });

  it.each(['exportQueue', 'orderEventsQueue'])(
    '%s dead-letters, detects duplicates (messageId) and bounds deliveries',
    (symbol) => {
      const queue = resourceOf('service-bus', 'Microsoft.ServiceBus/namespaces/queues@', symbol);
      expect(valueAt(queue.body, 'properties.deadLetteringOnMessageExpiration')).toBe('true');
      expect(valueAt(queue.body, 'properties.requiresDuplicateDetection')).toBe('true');
      expect(valueAt(queue.body, 'properties.maxDeliveryCount')).toMatch(/MaxDeliveryCount$/);
    },
  );

  it('the export queue gives up after 5 deliveries, like host.json', () => {
    expect(defaultOf('service-bus', 'exportMaxDeliveryCount')).toBe('5');
    expect(defaultOf('service-bus', 'exportQueueName')).toBe("'order-exports'");
    expect(defaultOf('service-bus', 'orderEventsQueueName')).toBe("'order-events'");
  });
});

describe('Storage and Key Vault', () => {
  it('storage allows no shared keys and no public blobs', () => {
    const account = resourceOf('storage', 'Microsoft.Storage/storageAccounts@');
    expect(valueAt(account.body, 'properties.allowSharedKeyAccess')).toBe('false');
    expect(valueAt(account.body, 'properties.allowBlobPublicAccess')).toBe('false');
    expect(valueAt(account.body, 'properties.minimumTlsVersion')).toBe('TLS1_2');
  });

  it('the exports container is private', () => {
    const container = resourceOf(
      'storage',
      'Microsoft.Storage/storageAccounts/blobServices/containers@',
      'exportContainer',
    );
    expect(valueAt(container.body, 'properties.publicAccess')).toBe('None');
    expect(defaultOf('storage', 'exportContainerName')).toBe("'exports'");
  });

  it('Key Vault uses RBAC authorization', () => {
    const vault = resourceOf('key-vault', 'Microsoft.KeyVault/vaults@');
    expect(valueAt(vault.body, 'properties.enableRbacAuthorization')).toBe('true');
  });

  it('no secret value is written in a template: only parameters and ARM-computed values', () => {
    for (const module of ['key-vault', 'postgres', 'redis']) {
      for (const secret of resources(modules[module]!.root).filter((r) =>
        r.type.startsWith('Microsoft.KeyVault/vaults/secrets@'),
      )) {
        const value = at(secret.body, 'properties.value');
        expect(value, `${module}: ${secret.symbol}`).toBeDefined();
        expect(stringLiteral(value), `${module}: ${secret.symbol} has a literal value`).toBeUndefined();
      }
    }
  });
});

describe('role assignments (least privilege)', () => {
  const required = {
    'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    'Azure Service Bus Data Sender': '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
    'Azure Service Bus Data Receiver': '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
    'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
    'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  };

  it.each(Object.entries(required))('grants %s', (_role, id) => {
    const roles = variableValue(modules['role-assignments']!.root, 'roles');
    const ids = [...objectProperties(roles!).values()].map((node) => stringLiteral(node));
    expect(ids).toContain(id);
  });

  it('grants no broad management role (Owner, Contributor, Service Bus Data Owner)', () => {
    const source = modules['role-assignments']!.source;
    for (const broad of [
      '8e3af657-a8ff-443c-a75c-2fe8c4bcb635', // Owner
      'b24988ac-6180-42a0-ab88-20f7382dd24c', // Contributor
      '090c5cfd-751d-490a-894a-3ce6f1109419', // Azure Service Bus Data Owner
    ]) {
      expect(source).not.toContain(broad);
    }
  });

  it('scopes Service Bus roles to the queues, not the namespace', () => {
    const serviceBus = resources(modules['role-assignments']!.root).filter(
      (r) =>
        r.type.startsWith('Microsoft.Authorization/roleAssignments@') &&
        /serviceBusData/.test(valueAt(r.body, 'properties.roleDefinitionId') ?? ''),
    );
    expect(serviceBus).toHaveLength(4);
    for (const assignment of serviceBus) expect(valueAt(assignment.body, 'scope')).toMatch(/Queue$/);
  });
});

describe('alerts (project reference: Monitoring)', () => {
  function alertModule(symbol: string): Map<string, Node> {
    const declaration = modules.alerts!.root.namedChildren.find(
      (child) =>
        child?.type === 'module_declaration' &&
        child.namedChildren.find((part) => part?.type === 'identifier')?.text === symbol,
    );
    const body = declaration?.namedChildren.at(-1) ?? undefined;
    const params = at(body, 'params');
    expect(params, symbol).toBeDefined();
    return objectProperties(params!);
  }

  function queryOf(params: Map<string, Node>): string {
    const query = params.get('query');
    const value = query?.type === 'identifier' ? variableValue(modules.alerts!.root, query.text) : query;
    return value?.text ?? '';
  }

  it('checkout latency above 500 ms (end to end: the CheckoutDurationMs metric, not the 202) pages PagerDuty', () => {
    const params = alertModule('checkoutLatency');
    expect(queryOf(params)).toContain('customMetrics\n| where name == "CheckoutDurationMs"');
    // The SDK exports histograms (valueSum/valueCount per row): the mean is what can be computed.
    expect(queryOf(params)).toMatch(/sum\(valueSum\)/);
    expect(queryOf(params)).not.toContain('requests');
    expect(params.get('metricMeasureColumn')?.text).toBe("'meanDurationMs'");
    expect(params.get('threshold')?.text).toBe('checkoutLatencyThresholdMs');
    expect(defaultOf('alerts', 'checkoutLatencyThresholdMs')).toBe('500');
    expect(params.get('actionGroupId')?.text).toBe('pagerDutyActionGroupId');
  });

  it('HTTP error rate above 1 % notifies Slack (HTTP requests only: other triggers have no URL)', () => {
    const params = alertModule('errorRate');
    expect(queryOf(params)).toMatch(/100\.0 \* failed \/ total/);
    expect(queryOf(params)).toMatch(/^'''\nrequests\n\| where isnotempty\(url\)\n/);
    expect(params.get('threshold')?.text).toBe('errorRateThresholdPercent');
    expect(defaultOf('alerts', 'errorRateThresholdPercent')).toBe('1');
    expect(params.get('actionGroupId')?.text).toBe('slackActionGroupId');
  });

  it('failed payments (custom event PaymentFailed) e-mail the finance team', () => {
    const params = alertModule('failedPayments');
    expect(queryOf(params)).toContain('customEvents');
    expect(queryOf(params)).toContain('name == "PaymentFailed"');
    expect(params.get('actionGroupId')?.text).toBe('financeActionGroupId');
    expect(modules['action-groups']!.source).toMatch(/emailAddress: financeEmail/);
  });

  it('disputed payments (custom event PaymentDisputed) e-mail the finance team', () => {
    const params = alertModule('disputedPayments');
    expect(queryOf(params)).toContain('customEvents');
    expect(queryOf(params)).toContain('name == "PaymentDisputed"');
    expect(params.get('actionGroupId')?.text).toBe('financeActionGroupId');
  });

  it('PagerDuty and Slack are webhook receivers with secure URLs', () => {
    const secure = parameters(modules['action-groups']!.root)
      .filter((p) => p.secure)
      .map((p) => p.name);
    expect(secure).toEqual(expect.arrayContaining(['pagerDutyWebhookUrl', 'slackWebhookUrl']));
    expect(modules['action-groups']!.source).toMatch(/serviceUri: pagerDutyWebhookUrl/);
    expect(modules['action-groups']!.source).toMatch(/serviceUri: slackWebhookUrl/);
  });
});

describe('Front Door (optional)', () => {
  it('is off unless enableFrontDoor is set', () => {
    const enable = parameters(modules.main!.root).find((p) => p.name === 'enableFrontDoor');
    expect(enable?.type).toBe('bool');
    expect(defaultOf('main', 'enableFrontDoor')).toBe('false');
    expect(modules.main!.source).toMatch(/module frontDoorRoutes '[^']+' = if \(enableFrontDoor\)/);
  });

  it('probes /api/health every 30 s', () => {
    const group = resourceOf('front-door-routes', 'Microsoft.Cdn/profiles/originGroups@');
    expect(valueAt(group.body, 'properties.healthProbeSettings.probePath')).toBe('/api/health');
    expect(valueAt(group.body, 'properties.healthProbeSettings.probeIntervalInSeconds')).toBe('30');
    expect(valueAt(group.body, 'properties.healthProbeSettings.probeRequestType')).toBe('GET');
  });
});

describe('data stores', () => {
  it('PostgreSQL has the app and audit databases', () => {
    expect(defaultOf('postgres', 'appDatabaseName')).toBe("'ecommerce'");
    expect(defaultOf('postgres', 'auditDatabaseName')).toBe("'ecommerce_audit'");
    expect(resources(modules.postgres!.root).filter((r) => r.type.includes('/databases@'))).toHaveLength(2);
  });

  it('Redis is Azure Managed Redis with TLS and a non-cluster-aware endpoint', () => {
    const database = resourceOf('redis', 'Microsoft.Cache/redisEnterprise/databases@');
    expect(valueAt(database.body, 'properties.clientProtocol')).toBe('Encrypted');
    expect(valueAt(database.body, 'properties.clusteringPolicy')).toBe('EnterpriseCluster');
    expect(modules.redis!.source).toMatch(/'rediss:\/\//);
  });
});

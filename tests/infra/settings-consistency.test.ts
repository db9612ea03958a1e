import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECRET_NAMES, SETTING_NAMES } from '../../shared/config/settings.js';
import {
  BICEP_DIR,
  ROOT,
  bicepFiles,
  objectProperties,
  parseBicep,
  renderString,
  resourceNames,
  resources,
  stringLiteral,
  variableValue,
  type ParsedBicep,
} from './bicep.js';

/**
 * Settings the code reads that Azure must NOT provide, with the reason. Everything else in
 * SETTING_NAMES has to be an app setting of the Function App.
 */
const LOCAL_ONLY: Record<string, string> = {
  STRIPE_API_BASE: 'points the Stripe SDK at the local fake Stripe; unset in Azure means api.stripe.com',
  LOCAL_MAIL_DIR: 'where emails land as .eml files without ACS; Azure sends through ACS instead',
};

/**
 * Connections Azure provides in the Functions identity-based form (`<name>__accountName`,
 * `<name>__fullyQualifiedNamespace`, `__credential`, `__clientId`) instead of a connection string:
 * there are no account keys or SAS keys to put in one (shared-key and local auth are disabled).
 */
const IDENTITY_BASED = ['AzureWebJobsStorage', 'ServiceBusConnection'];

/** App settings for the platform rather than for shared/config, and why each is there. */
const PLATFORM_SETTINGS: Record<string, string> = {
  AZURE_CLIENT_ID: 'DefaultAzureCredential (Key Vault, Service Bus SDKs) picks the user-assigned identity',
  AzureWebJobsStorage__credential: 'identity-based host storage',
  AzureWebJobsStorage__clientId: 'identity-based host storage: which identity',
  ServiceBusConnection__credential: 'identity-based Service Bus trigger/binding',
  ServiceBusConnection__clientId: 'identity-based Service Bus trigger/binding: which identity',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'the Functions host sends telemetry with Entra ID',
  PGSSLMODE: 'TLS for node-postgres (MikroORM drops sslmode from the URL)',
  AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions:
    'host.json override per environment: activity concurrency = the ORM pool (tests/infra/capacity.test.ts)',
};

/** Deprecated or rejected on Flex Consumption (functions-app-settings#flex-consumption-plan-deprecations). */
const FLEX_DEPRECATED = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
  'WEBSITE_TIME_ZONE',
  'TZ',
];

/** Settings the local Functions runtime (Core Tools) itself reads from local.settings.json. */
const LOCAL_RUNTIME_SETTINGS = ['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsFeatureFlags'];

const KV_REFERENCE = /^@Microsoft\.KeyVault\(SecretUri=\$\{keyVaultUri\}secrets\/([a-z0-9-]+)\/\)$/;

let functionApp: ParsedBicep;
let appSettings: Map<string, string>;
let declaredSecrets: Set<string>;

/** The Function App's `config/appsettings` resource and its settings, rendered as text. */
function readAppSettings(parsed: ParsedBicep): Map<string, string> {
  const config = resources(parsed.root).find(
    (r) =>
      (r.type === 'config' || r.type.startsWith('Microsoft.Web/sites/config@')) &&
      stringLiteral(r.body && objectProperties(r.body).get('name')) === 'appsettings',
  );
  expect(config, 'a config resource named appsettings').toBeDefined();
  let properties = objectProperties(config!.body!).get('properties');
  if (properties?.type === 'identifier') properties = variableValue(parsed.root, properties.text);
  expect(properties?.type, 'appsettings properties must be an object literal (or a var holding one)').toBe(
    'object',
  );
  const settings = new Map<string, string>();
  for (const [key, value] of objectProperties(properties!)) {
    // A bare identifier (a parameter) is shown the way it would be interpolated: `${name}`.
    settings.set(
      key,
      renderString(parsed.root, value) ?? (value.type === 'identifier' ? `\${${value.text}}` : value.text),
    );
  }
  return settings;
}

beforeAll(async () => {
  functionApp = await parseBicep(path.join(BICEP_DIR, 'modules', 'function-app.bicep'));
  appSettings = readAppSettings(functionApp);
  declaredSecrets = new Set<string>();
  for (const file of bicepFiles()) {
    const parsed = await parseBicep(file);
    for (const resource of resources(parsed.root)) {
      if (resource.existing || !resource.type.startsWith('Microsoft.KeyVault/vaults/secrets@')) continue;
      for (const name of resourceNames(parsed.root, resource)) declaredSecrets.add(name);
    }
  }
});

describe('Function App settings ↔ shared/config/settings.ts', () => {
  it('reads a plausible set of app settings from the template', () => {
    expect(appSettings.size).toBeGreaterThan(20);
    expect(appSettings.get('APP_ENV')).toBe('azure');
  });

  it.each(SETTING_NAMES.map((name) => [name]))(
    '%s is provided in Azure or documented as local-only',
    (name) => {
      const provided =
        appSettings.has(name) ||
        (IDENTITY_BASED.includes(name) && [...appSettings.keys()].some((key) => key.startsWith(`${name}__`)));
      expect(provided || name in LOCAL_ONLY, `${name}: add it to function-app.bicep or to LOCAL_ONLY`).toBe(
        true,
      );
    },
  );

  it('local-only settings are real settings and are not set in Azure', () => {
    for (const name of Object.keys(LOCAL_ONLY)) {
      expect(SETTING_NAMES as string[]).toContain(name);
      expect(appSettings.has(name), `${name} must not be set in Azure`).toBe(false);
    }
  });

  it('every app setting is a setting the code reads, a secret, or a documented platform setting', () => {
    const known = new Set<string>([
      ...SETTING_NAMES,
      ...Object.keys(SECRET_NAMES),
      ...Object.keys(PLATFORM_SETTINGS),
    ]);
    const unknown = [...appSettings.keys()].filter((key) => !known.has(key));
    expect(unknown, 'unknown app settings (typo, or a new setting missing from settings.ts?)').toEqual([]);
  });

  it('sets nothing Flex Consumption deprecates, and no storage connection string', () => {
    for (const name of FLEX_DEPRECATED) expect(appSettings.has(name), name).toBe(false);
    expect(appSettings.has('AzureWebJobsStorage')).toBe(false);
    expect(appSettings.has('ServiceBusConnection')).toBe(false);
  });

  it('uses identity-based connections for Storage and Service Bus with the user-assigned identity', () => {
    expect(appSettings.get('AzureWebJobsStorage__credential')).toBe('managedidentity');
    expect(appSettings.get('ServiceBusConnection__credential')).toBe('managedidentity');
    for (const key of [
      'AzureWebJobsStorage__clientId',
      'ServiceBusConnection__clientId',
      'AZURE_CLIENT_ID',
    ]) {
      expect(appSettings.get(key), key).toBe('${identityClientId}');
    }
    expect(appSettings.get('AzureWebJobsStorage__accountName')).toBe('${storageAccountName}');
    expect(appSettings.get('ServiceBusConnection__fullyQualifiedNamespace')).toBe(
      '${serviceBusFullyQualifiedNamespace}',
    );
    expect(functionApp.source).toMatch(/keyVaultReferenceIdentity:\s*identityId/);
  });
});

describe('Key Vault secrets ↔ SECRET_NAMES', () => {
  it.each(Object.entries(SECRET_NAMES))(
    '%s is declared as Key Vault secret %s and referenced by the app setting of that name',
    (setting, secretName) => {
      expect(declaredSecrets.has(secretName), `secret ${secretName} declared in bicep/`).toBe(true);
      const value = appSettings.get(setting);
      expect(value, `${setting} app setting`).toBeDefined();
      expect(KV_REFERENCE.exec(value!)?.[1], `${setting} = ${value}`).toBe(secretName);
    },
  );

  it('every Key Vault reference in the app settings points at a declared secret', () => {
    const references = [...appSettings.entries()].filter(([, value]) =>
      value.startsWith('@Microsoft.KeyVault('),
    );
    expect(references.map(([key]) => key)).toEqual(expect.arrayContaining(['REDIS_URL']));
    for (const [key, value] of references) {
      const secretName = KV_REFERENCE.exec(value)?.[1];
      expect(secretName, `${key} = ${value}`).toBeDefined();
      expect(declaredSecrets.has(secretName!), `${key} → ${secretName}`).toBe(true);
    }
  });

  it('PostgreSQL is reached as the managed identity with an Entra token: no password in any setting', () => {
    expect(appSettings.get('DATABASE_AUTH')).toBe('entra');
    for (const key of ['DATABASE_URL', 'AUDIT_DATABASE_URL']) {
      const url = appSettings.get(key);
      expect(url, key).toMatch(/^postgres:\/\/\$\{uriComponent\(databaseUser\)\}@\$\{databaseHost\}:5432\//);
      expect(url, key).not.toContain('KeyVault');
    }
    const postgres = readFileSync(path.join(BICEP_DIR, 'modules', 'postgres.bicep'), 'utf8');
    expect(postgres).not.toMatch(/administratorPassword\)?\}@/);
    expect(postgres).not.toContain('Microsoft.KeyVault');
  });

  it('KEY_VAULT_URL and the references use the vault the template creates', () => {
    expect(appSettings.get('KEY_VAULT_URL')).toBe('${keyVaultUri}');
    const main = readFileSync(path.join(BICEP_DIR, 'main.bicep'), 'utf8');
    expect(main).toMatch(/keyVaultUri:\s*keyVault\.outputs\.uri/);
  });
});

describe('local.settings.example.json', () => {
  const example = JSON.parse(readFileSync(path.join(ROOT, 'local.settings.example.json'), 'utf8')) as {
    Values: Record<string, string>;
  };

  it('holds only settings the code reads, secrets, or Functions runtime settings', () => {
    const known = new Set<string>([
      ...SETTING_NAMES,
      ...Object.keys(SECRET_NAMES),
      ...LOCAL_RUNTIME_SETTINGS,
    ]);
    const unknown = Object.keys(example.Values).filter((key) => !known.has(key));
    expect(unknown).toEqual([]);
  });

  it('names every secret, so `func start` users know what to fill in', () => {
    for (const setting of Object.keys(SECRET_NAMES)) expect(example.Values, setting).toHaveProperty(setting);
  });
});

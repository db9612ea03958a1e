// The Function App on the Flex Consumption plan (FC1, Linux, Node 20), running from the deployment
// package container with its user-assigned identity. The resource shape (functionAppConfig with
// deployment storage, runtime and scaleAndConcurrency) follows the official samples in
// Azure-Samples/azure-functions-flex-consumption-samples. Settings Flex Consumption deprecates
// (FUNCTIONS_WORKER_RUNTIME, WEBSITE_RUN_FROM_PACKAGE, WEBSITE_CONTENTSHARE …) are never set: the
// runtime comes from functionAppConfig.runtime and the app always runs from its package.

param planName string
param name string
param location string
param tags object

param identityId string
param identityClientId string

@description('PostgreSQL user of the identity (the principal name the deploy workflow registers).')
param databaseUser string
param databaseHost string
param appDatabaseName string
param auditDatabaseName string

@description('Subnet (delegated to Microsoft.App/environments) the app joins to reach private endpoints.')
param virtualNetworkSubnetId string
@description('User-assigned identity that writes the deployment package (deployment storage only).')
param deployIdentityId string

param storageAccountName string
param storageBlobEndpoint string
param deploymentContainerName string
param exportContainerName string

param appInsightsConnectionString string
param keyVaultUri string

param serviceBusFullyQualifiedNamespace string
param exportQueueName string
param orderEventsQueueName string

@description('Azure Communication Services endpoint (customer emails, managed identity).')
param communicationServicesEndpoint string
@description('From address of customer emails: a sender of the linked email domain.')
param emailSenderAddress string

@description('Upper bound of instances (Flex Consumption: 40–1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Instances kept warm for the HTTP group (0 = scale to zero; cold starts).')
@minValue(0)
param alwaysReadyHttpInstances int = 0

@description('Instances kept warm for the durable group (orchestrations and activities): at least 1, so a checkout never waits for a cold start or an idle poll back-off (docs/adr/0091-durable-and-capacity.md).')
@minValue(1)
param alwaysReadyDurableInstances int = 1

@description('Non-secret tunables: see shared/config/settings.ts for meaning and bounds.')
param tuning tuningSettings

@description('Front Door profile id (x-azure-fdid). Empty = the app is reachable directly.')
param frontDoorId string = ''

type tuningSettings = {
  databasePoolMax: int
  // The ORM pool's share of databasePoolMax (shared/db/capacity.ts ormPoolMax): activities beyond it
  // would only queue for a connection.
  activityConcurrency: int
  redisKeyPrefix: string
  secretCacheTtlSeconds: int
  trustedProxyHops: int
  jwtIssuer: string
  jwtAudience: string
  checkoutPaymentTimeoutSeconds: int
  reservationTtlSeconds: int
  exportLinkTtlSeconds: int
  // main.bicep restricts the value with @allowed.
  logLevel: string
}

// Versionless Key Vault reference: the platform resolves it with the user-assigned identity
// (keyVaultReferenceIdentity) and follows new secret versions.
var kvRef = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/'

// Every setting the code reads (shared/config/settings.ts) plus the platform's identity-based
// connections. tests/infra/settings-consistency.test.ts keeps this list and the code in step.
var appSettings = {
  // Runtime and identity plumbing
  AZURE_CLIENT_ID: identityClientId
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // MikroORM drops URL query parameters, so TLS for node-postgres is requested through libpq's variable.
  PGSSLMODE: 'verify-full'

  // Application settings
  APP_ENV: 'azure'
  // No password anywhere: the identity's Entra access token is the password (DATABASE_AUTH=entra).
  DATABASE_URL: 'postgres://${uriComponent(databaseUser)}@${databaseHost}:5432/${appDatabaseName}'
  AUDIT_DATABASE_URL: 'postgres://${uriComponent(databaseUser)}@${databaseHost}:5432/${auditDatabaseName}'
  DATABASE_AUTH: 'entra'
  DATABASE_POOL_MAX: string(tuning.databasePoolMax)
  // host.json's value is for local runs; each environment's follows its own pool size.
  AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions: string(tuning.activityConcurrency)
  // statement_timeout: request pools / the export stream (docs/adr/0021-abuse-limits.md).
  DATABASE_STATEMENT_TIMEOUT_MS: '5000'
  EXPORT_STATEMENT_TIMEOUT_MS: '1800000'
  REDIS_URL: '${kvRef}redis-url/)'
  RATE_LIMIT_REDIS_URL: '${kvRef}rate-limit-redis-url/)'
  REDIS_KEY_PREFIX: tuning.redisKeyPrefix
  KEY_VAULT_URL: keyVaultUri
  SECRET_CACHE_TTL_SECONDS: string(tuning.secretCacheTtlSeconds)
  TRUSTED_PROXY_HOPS: string(tuning.trustedProxyHops)
  JWT_ISSUER: tuning.jwtIssuer
  JWT_AUDIENCE: tuning.jwtAudience
  CHECKOUT_PAYMENT_TIMEOUT_SECONDS: string(tuning.checkoutPaymentTimeoutSeconds)
  RESERVATION_TTL_SECONDS: string(tuning.reservationTtlSeconds)
  // Fair stock (docs/adr/0021-abuse-limits.md): caps per customer, and lines per cart.
  FAIR_STOCK_MAX_OPEN_ORDERS: '3'
  FAIR_STOCK_MAX_UNITS_PER_PRODUCT: '20'
  CART_MAX_LINES: '50'
  EXPORT_QUEUE_NAME: exportQueueName
  ORDER_EVENTS_QUEUE_NAME: orderEventsQueueName
  EXPORT_CONTAINER: exportContainerName
  EXPORT_LINK_TTL_SECONDS: string(tuning.exportLinkTtlSeconds)
  LOG_LEVEL: tuning.logLevel
  COMMUNICATION_SERVICES_ENDPOINT: communicationServicesEndpoint
  EMAIL_SENDER_ADDRESS: emailSenderAddress

  // Secrets (SECRET_NAMES): the app reads them from Key Vault through KEY_VAULT_URL with a short
  // cache (rotation without restart); these references resolve the same secrets for anything that
  // reads the environment instead.
  ADMIN_TOKEN: '${kvRef}admin-token/)'
  STRIPE_SECRET_KEY: '${kvRef}stripe-secret-key/)'
  STRIPE_WEBHOOK_SECRET: '${kvRef}stripe-webhook-secret/)'
  JWT_SIGNING_KEYS: '${kvRef}jwt-signing-keys/)'
  FERNET_KEYS: '${kvRef}fernet-keys/)'
  BLIND_INDEX_KEY: '${kvRef}blind-index-key/)'
  CURSOR_SIGNING_KEYS: '${kvRef}cursor-signing-keys/)'
}

// With Front Door, only requests that carry this profile's id and come from Front Door's back-end
// ranges reach the app (X-Forwarded-For can then be trusted for TRUSTED_PROXY_HOPS).
var frontDoorOnly = [
  {
    name: 'Allow Front Door'
    action: 'Allow'
    priority: 100
    tag: 'ServiceTag'
    ipAddress: 'AzureFrontDoor.Backend'
    headers: {
      'x-azure-fdid': [
        frontDoorId
      ]
    }
  }
]

// Flex Consumption scales function groups: all HTTP functions are the `http` group, orchestrations and
// activities the `durable` group (https://aka.ms/flexconsumption/alwaysready). Groups set to 0 are left
// out (scale to zero).
var alwaysReadyGroups = [
  {
    name: 'http'
    instanceCount: alwaysReadyHttpInstances
  }
  {
    name: 'durable'
    instanceCount: alwaysReadyDurableInstances
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
      '${deployIdentityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: virtualNetworkSubnetId
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ipSecurityRestrictions: empty(frontDoorId) ? [] : frontDoorOnly
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            // Not the app's identity: that one may only read the package (role-assignments.bicep).
            userAssignedIdentityResourceId: deployIdentityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: filter(alwaysReadyGroups, group => group.instanceCount > 0)
      }
      runtime: {
        name: 'node'
        version: '20'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName

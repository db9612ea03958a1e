// ecommerce-api — everything the Function App needs in one resource group.
// Deploy: az deployment group create -g <rg> -f bicep/main.bicep -p @bicep/parameters/<env>.parameters.json
//         -p postgresAdminPassword=<secret> [alert webhook secrets]
// No Bicep compiler runs on the team's machines: tests/infra parses every file with tree-sitter-bicep
// and CI compiles it (`az bicep build`); resource shapes and API versions follow official Azure samples
// (docs/adr/0090-infrastructure.md).

targetScope = 'resourceGroup'

@description('Environment name; part of every resource name.')
@allowed([
  'dev'
  'prod'
])
param environmentName string

@description('Short lowercase alphanumeric prefix of resource names.')
@minLength(2)
@maxLength(8)
param namePrefix string = 'ecom'

param location string = resourceGroup().location

// --- PostgreSQL ---------------------------------------------------------------------------------
param postgresAdminLogin string = 'ecomadmin'

@description('PostgreSQL administrator password (pipeline secret). Only ever written to Key Vault.')
@secure()
param postgresAdminPassword string

@description('Object id of the deploy workflow\'s service principal: the server\'s Entra administrator, which migrates and registers the app\'s identity. deploy.yml always passes it; empty leaves the administrator as it is.')
param postgresEntraAdminObjectId string = ''

@description('Display name of that service principal (its PostgreSQL user name).')
param postgresEntraAdminName string = ''

param postgresVersion string = '16'
param postgresSkuName string = 'Standard_B2s'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'

param postgresStorageSizeGB int = 32
param postgresBackupRetentionDays int = 7
param postgresGeoRedundantBackup bool = false
param postgresHighAvailability bool = false

// --- Redis --------------------------------------------------------------------------------------
param redisSkuName string = 'Balanced_B0'
param redisHighAvailability bool = false

// --- Function App -------------------------------------------------------------------------------
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

param alwaysReadyHttpInstances int = 0

@description('Instances kept warm for the durable group (orchestrations and activities).')
@minValue(1)
param alwaysReadyDurableInstances int = 1

@description('DATABASE_POOL_MAX: the ORM and read pools of an instance. The other pools add 6; maximumInstanceCount × (this + 6) + 10 must stay within the server\'s user connections (shared/db/capacity.ts, tests/infra/capacity.test.ts).')
param databasePoolMax int = 4

@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@description('Proxies in front of the app whose X-Forwarded-For entries are trusted (see docs/runbook.md, "Client IPs").')
param trustedProxyHops int = enableFrontDoor ? 1 : 0

param jwtIssuer string = 'ecommerce-api'
param jwtAudience string = 'ecommerce-api-clients'
param secretCacheTtlSeconds int = 300
param checkoutPaymentTimeoutSeconds int = 900
param reservationTtlSeconds int = 1200
param exportLinkTtlSeconds int = 900
param exportRetentionDays int = 7

// --- Secrets (SECRET_NAMES). Empty = leave the Key Vault secret as it is (operators set/rotate it) --
@secure()
param adminToken string = ''

@secure()
param stripeSecretKey string = ''

@secure()
param stripeWebhookSecret string = ''

@secure()
param jwtSigningKeys string = ''

@secure()
param fernetKeys string = ''

@secure()
param blindIndexKey string = ''

@secure()
param cursorSigningKeys string = ''

param keyVaultPurgeProtection bool = false

@description('Object id of the operators\' group allowed to set and rotate secrets (Key Vault Secrets Officer).')
param secretsOfficerPrincipalId string = ''

// --- Alerts -------------------------------------------------------------------------------------
@secure()
param pagerDutyWebhookUrl string = ''

@secure()
param slackWebhookUrl string = ''

param financeEmail string = ''

// --- Front Door -----------------------------------------------------------------------------------
@description('Put Azure Front Door (Standard) in front of the app and accept traffic only from it.')
param enableFrontDoor bool = false

// ------------------------------------------------------------------------------------------------
var token = take(uniqueString(subscription().id, resourceGroup().id, environmentName), 6)
var baseName = '${namePrefix}-${environmentName}'
var tags = {
  application: 'ecommerce-api'
  environment: environmentName
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${baseName}'
    location: location
    tags: tags
  }
}

// Writes deployment packages only (Storage Blob Data Contributor on the deployment container): the
// app's own identity can merely read the package it runs (docs/adr/0021-abuse-limits.md).
module deployIdentity 'modules/identity.bicep' = {
  name: 'deploy-identity'
  params: {
    name: 'id-${baseName}-deploy'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${baseName}'
    applicationInsightsName: 'appi-${baseName}'
    location: location
    tags: tags
  }
}

module network 'modules/network.bicep' = {
  name: 'network'
  params: {
    name: 'vnet-${baseName}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('st${namePrefix}${environmentName}${token}', 24)
    location: location
    tags: tags
    exportRetentionDays: exportRetentionDays
  }
}

module serviceBus 'modules/service-bus.bicep' = {
  name: 'service-bus'
  params: {
    name: 'sb-${baseName}-${token}'
    location: location
    tags: tags
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  params: {
    name: 'kv-${baseName}-${token}'
    location: location
    tags: tags
    enablePurgeProtection: keyVaultPurgeProtection
    secretValues: {
      'admin-token': adminToken
      'stripe-secret-key': stripeSecretKey
      'stripe-webhook-secret': stripeWebhookSecret
      'jwt-signing-keys': jwtSigningKeys
      'fernet-keys': fernetKeys
      'blind-index-key': blindIndexKey
      'cursor-signing-keys': cursorSigningKeys
    }
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  params: {
    name: 'psql-${baseName}-${token}'
    location: location
    tags: tags
    administratorLogin: postgresAdminLogin
    administratorPassword: postgresAdminPassword
    version: postgresVersion
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    backupRetentionDays: postgresBackupRetentionDays
    geoRedundantBackup: postgresGeoRedundantBackup
    highAvailability: postgresHighAvailability
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    privateDnsZoneId: network.outputs.postgresDnsZoneId
    entraAdminObjectId: postgresEntraAdminObjectId
    entraAdminName: postgresEntraAdminName
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  params: {
    name: 'redis-${baseName}-${token}'
    location: location
    tags: tags
    skuName: redisSkuName
    highAvailability: redisHighAvailability
    keyVaultName: keyVault.outputs.name
  }
}

// Rate-limit counters apart from the cache, with NoEviction: filling the cache can never evict a
// counter (docs/adr/0021-abuse-limits.md). Azure Managed Redis has one database per instance.
module rateLimitRedis 'modules/redis.bicep' = {
  name: 'redis-rate-limit'
  params: {
    name: 'redis-rl-${baseName}-${token}'
    location: location
    tags: tags
    skuName: redisSkuName
    highAvailability: redisHighAvailability
    keyVaultName: keyVault.outputs.name
    urlSecretName: 'rate-limit-redis-url'
    evictionPolicy: 'NoEviction'
  }
}

module roles 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    exportQueueName: serviceBus.outputs.exportQueueName
    orderEventsQueueName: serviceBus.outputs.orderEventsQueueName
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    secretsOfficerPrincipalId: secretsOfficerPrincipalId
    deploymentContainerName: storage.outputs.deploymentContainerName
    exportContainerName: storage.outputs.exportContainerName
    deployerPrincipalId: deployIdentity.outputs.principalId
  }
}

module communication 'modules/communication.bicep' = {
  name: 'communication'
  params: {
    name: 'acs-${baseName}-${token}'
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module frontDoorProfile 'modules/front-door-profile.bicep' = if (enableFrontDoor) {
  name: 'front-door-profile'
  params: {
    name: 'afd-${baseName}'
    tags: tags
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  // The app resolves Key Vault references and reads the deployment package with its identity at start.
  dependsOn: [
    roles
    postgres
    redis
    rateLimitRedis
  ]
  params: {
    planName: 'plan-${baseName}'
    name: 'func-${baseName}-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    databaseUser: identity.outputs.name
    databaseHost: postgres.outputs.fullyQualifiedDomainName
    appDatabaseName: postgres.outputs.appDatabaseName
    auditDatabaseName: postgres.outputs.auditDatabaseName
    virtualNetworkSubnetId: network.outputs.appSubnetId
    deployIdentityId: deployIdentity.outputs.id
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    exportContainerName: storage.outputs.exportContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUri: keyVault.outputs.uri
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    exportQueueName: serviceBus.outputs.exportQueueName
    orderEventsQueueName: serviceBus.outputs.orderEventsQueueName
    communicationServicesEndpoint: communication.outputs.endpoint
    emailSenderAddress: communication.outputs.senderAddress
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    alwaysReadyDurableInstances: alwaysReadyDurableInstances
    frontDoorId: enableFrontDoor ? frontDoorProfile.outputs.frontDoorId : ''
    tuning: {
      databasePoolMax: databasePoolMax
      // shared/db/capacity.ts ormPoolMax: the pool minus the read pool's quarter (at least 1 each).
      activityConcurrency: max(1, databasePoolMax - max(1, databasePoolMax / 4))
      // One Redis per environment; the prefix still keeps keys apart if one is ever shared.
      redisKeyPrefix: '${environmentName}:'
      secretCacheTtlSeconds: secretCacheTtlSeconds
      trustedProxyHops: trustedProxyHops
      jwtIssuer: jwtIssuer
      jwtAudience: jwtAudience
      checkoutPaymentTimeoutSeconds: checkoutPaymentTimeoutSeconds
      reservationTtlSeconds: reservationTtlSeconds
      exportLinkTtlSeconds: exportLinkTtlSeconds
      logLevel: logLevel
    }
  }
}

module frontDoorRoutes 'modules/front-door-routes.bicep' = if (enableFrontDoor) {
  name: 'front-door-routes'
  dependsOn: [
    frontDoorProfile
  ]
  params: {
    profileName: 'afd-${baseName}'
    endpointName: 'fde-${baseName}-${token}'
    tags: tags
    originHostName: functionApp.outputs.defaultHostName
  }
}

module actionGroups 'modules/action-groups.bicep' = {
  name: 'action-groups'
  params: {
    namePrefix: baseName
    tags: tags
    pagerDutyWebhookUrl: pagerDutyWebhookUrl
    slackWebhookUrl: slackWebhookUrl
    financeEmail: financeEmail
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: baseName
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    serviceBusNamespaceId: serviceBus.outputs.id
    pagerDutyActionGroupId: actionGroups.outputs.pagerDutyId
    slackActionGroupId: actionGroups.outputs.slackId
    financeActionGroupId: actionGroups.outputs.financeId
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output publicHostName string = enableFrontDoor ? frontDoorRoutes.outputs.endpointHostName : functionApp.outputs.defaultHostName
output keyVaultName string = keyVault.outputs.name
output storageAccountName string = storage.outputs.name
output postgresServerName string = postgres.outputs.name
output postgresHost string = postgres.outputs.fullyQualifiedDomainName
output postgresAdminLogin string = postgresAdminLogin
output postgresEntraAdminName string = postgresEntraAdminName
// The app's PostgreSQL principal: registered by the deploy workflow (pgaadauth_create_principal_with_oid).
output appIdentityName string = identity.outputs.name
output appIdentityPrincipalId string = identity.outputs.principalId
output appDatabaseName string = postgres.outputs.appDatabaseName
output auditDatabaseName string = postgres.outputs.auditDatabaseName

// Azure Managed Redis (Microsoft.Cache/redisEnterprise, Balanced tier) — the successor of Azure Cache
// for Redis, whose every tier is being retired (docs/adr/0090-infrastructure.md). Enterprise clustering
// policy: one proxied endpoint, so the app's plain (non-cluster) ioredis client works unchanged.
// The client authenticates with an access key (ioredis has no Entra token refresh); the key is turned
// into the redis-url Key Vault secret here and never leaves ARM.

param name string
param location string
param tags object

param skuName string = 'Balanced_B0'

@description('Replicate the data set (production). Off halves the cost for dev.')
param highAvailability bool = false

@description('Vault that receives the connection URL secret.')
param keyVaultName string

@description('Key Vault secret that receives the connection URL.')
@allowed([
  'redis-url'
  'rate-limit-redis-url'
])
param urlSecretName string = 'redis-url'

@description('VolatileLRU for the cache; NoEviction for rate-limit counters (docs/adr/0021-abuse-limits.md).')
@allowed([
  'VolatileLRU'
  'NoEviction'
])
param evictionPolicy string = 'VolatileLRU'

// TLS port of Azure Managed Redis databases.
var port = 10000

resource cluster 'Microsoft.Cache/redisEnterprise@2025-04-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: highAvailability ? 'Enabled' : 'Disabled'
    encryption: {}
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-04-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: port
    clusteringPolicy: 'EnterpriseCluster'
    // Every key the app writes has a TTL (cache entries, rate-limit windows). The rate-limit instance
    // refuses writes when full instead of evicting a counter (a fresh budget for an attacker).
    evictionPolicy: evictionPolicy
    accessKeysAuthentication: 'Enabled'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// The secrets this module may write, one per instance (the cache's, the rate-limit counters'); listed
// so every secret the app settings reference is visible in the template (tests/infra).
var urlSecretNames = [
  'redis-url'
  'rate-limit-redis-url'
]

resource redisUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for secretName in urlSecretNames: if (secretName == urlSecretName) {
    parent: vault
    name: secretName
    properties: {
      // rediss:// = TLS; the key is URL-encoded because ioredis decodes the URL's password.
      value: 'rediss://:${uriComponent(database.listKeys().primaryKey)}@${cluster.properties.hostName}:${port}'
      contentType: 'text/plain'
    }
  }
]

output id string = cluster.id
output name string = cluster.name
output hostName string = cluster.properties.hostName

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

@description('Vault that receives the redis-url secret.')
param keyVaultName string

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
    // Every key the app writes has a TTL (cache entries, rate-limit windows).
    evictionPolicy: 'VolatileLRU'
    accessKeysAuthentication: 'Enabled'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource redisUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'redis-url'
  properties: {
    // rediss:// = TLS; the key is URL-encoded because ioredis decodes the URL's password.
    value: 'rediss://:${uriComponent(database.listKeys().primaryKey)}@${cluster.properties.hostName}:${port}'
    contentType: 'text/plain'
  }
}

output id string = cluster.id
output name string = cluster.name
output hostName string = cluster.properties.hostName

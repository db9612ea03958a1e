// PostgreSQL Flexible Server with the application and audit databases (separate databases: the audit
// relay writes to its own, and MikroORM's migration diff must never see the other's tables).
// Authentication: password (see docs/adr/0090-infrastructure.md). The connection URLs are written to
// Key Vault here — the password never appears in app settings or outputs — and the Function App reads
// them through Key Vault references. TLS is enforced by the server (require_secure_transport = on);
// the app sets PGSSLMODE=verify-full because MikroORM drops URL query parameters.

param name string
param location string
param tags object

param administratorLogin string

@secure()
param administratorPassword string

@description('PostgreSQL major version.')
param version string = '16'

param skuName string = 'Standard_B2s'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string = 'Burstable'

@minValue(32)
param storageSizeGB int = 32

@minValue(7)
@maxValue(35)
param backupRetentionDays int = 7

param geoRedundantBackup bool = false

@description('Zone-redundant standby (not available on Burstable).')
param highAvailability bool = false

param appDatabaseName string = 'ecommerce'
param auditDatabaseName string = 'ecommerce_audit'

@description('Vault that receives the database-url and audit-database-url secrets.')
param keyVaultName string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorPassword
    authConfig: {
      activeDirectoryAuth: 'Disabled'
      passwordAuth: 'Enabled'
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: backupRetentionDays
      geoRedundantBackup: geoRedundantBackup ? 'Enabled' : 'Disabled'
    }
    highAvailability: {
      mode: highAvailability ? 'ZoneRedundant' : 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

// Flex Consumption instances have no fixed outbound addresses without VNet integration; this rule
// (0.0.0.0) admits Azure-hosted clients only. The password and TLS remain the gate.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource appDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: appDatabaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

resource auditDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: auditDatabaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

var serverUrl = 'postgres://${uriComponent(administratorLogin)}:${uriComponent(administratorPassword)}@${server.properties.fullyQualifiedDomainName}:5432'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource databaseUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'database-url'
  properties: {
    value: '${serverUrl}/${appDatabase.name}'
    contentType: 'text/plain'
  }
}

resource auditDatabaseUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'audit-database-url'
  properties: {
    value: '${serverUrl}/${auditDatabase.name}'
    contentType: 'text/plain'
  }
}

output id string = server.id
output name string = server.name
output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
output appDatabaseName string = appDatabase.name
output auditDatabaseName string = auditDatabase.name

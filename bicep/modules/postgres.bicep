// PostgreSQL Flexible Server with the application and audit databases (separate databases: the audit
// relay writes to its own, and MikroORM's migration diff must never see the other's tables).
// Authentication: Microsoft Entra ID for the app (its managed identity, registered as a non-admin
// principal by the deploy workflow and given the app and audit roles: infra/db/roles.ts) and for the
// deploy principal (the Entra administrator below, which migrates). The password administrator stays
// for break-glass only; its password is a pipeline secret and is written nowhere.
// Network: no firewall rule (nothing on the internet reaches it); the app reaches it through a private
// endpoint in its virtual network; the deploy workflow adds the runner's address around the migration.
// TLS is enforced by the server (require_secure_transport = on); the app sets PGSSLMODE=verify-full
// because MikroORM drops URL query parameters.

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

@description('Subnet of the private endpoint the app connects through.')
param privateEndpointSubnetId string

@description('The privatelink.postgres.database.azure.com zone linked to the app\'s virtual network.')
param privateDnsZoneId string

@description('Object id of the Entra administrator: the deploy workflow\'s service principal.')
param entraAdminObjectId string

@description('Display name of that service principal (its PostgreSQL user name).')
param entraAdminName string

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
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Enabled'
      tenantId: tenant().tenantId
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

// The deploy principal administers the server through Entra (creates the app's principal, migrates).
// A flexible server runs one operation at a time: after the databases.
resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (!empty(entraAdminObjectId)) {
  parent: server
  name: entraAdminObjectId
  dependsOn: [
    appDatabase
    auditDatabase
  ]
  properties: {
    principalType: 'ServicePrincipal'
    principalName: entraAdminName
    tenantId: tenant().tenantId
  }
}

resource privateEndpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: '${name}-pe'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: privateEndpointSubnetId
    }
    privateLinkServiceConnections: [
      {
        name: '${name}-pe'
        properties: {
          privateLinkServiceId: server.id
          groupIds: [
            'postgresqlServer'
          ]
        }
      }
    ]
  }
}

resource privateDnsZoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: privateEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'postgres'
        properties: {
          privateDnsZoneId: privateDnsZoneId
        }
      }
    ]
  }
}

output id string = server.id
output name string = server.name
output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
output appDatabaseName string = appDatabase.name
output auditDatabaseName string = auditDatabase.name

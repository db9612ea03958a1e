// The Function App's storage account: host storage and the Durable Functions task hub (created by the
// runtime: queues, tables and lease blobs of the hub named in host.json), the deployment-package
// container Flex Consumption runs from, and the private `exports` container for order CSVs.
// Shared keys are disabled: everything goes through the managed identity (exports are handed out as
// user-delegation SAS links, which need no account key).

param name string
param location string
param tags object

@description('Blob container the Flex Consumption app runs its package from.')
param deploymentContainerName string = 'deploymentpackage'

@description('Private container for order exports (EXPORT_CONTAINER).')
param exportContainerName string = 'exports'

@description('Export files are deleted this many days after they were written: they hold customer data.')
@minValue(1)
param exportRetentionDays int = 7

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard_LRS'
  }
  kind: 'StorageV2'
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource exportContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: exportContainerName
  properties: {
    publicAccess: 'None'
  }
}

@description('Durable Functions task hub (host.json extensions.durableTask.hubName).')
param durableHubName string = 'EcommerceHub'

// The host's and Durable's containers exist before the app starts, so role-assignments.bicep can grant
// blob access per container instead of account-wide (docs/adr/0021-abuse-limits.md).
var hostContainerNames = [
  'azure-webjobs-hosts'
  'azure-webjobs-secrets'
  '${toLower(durableHubName)}-leases'
  '${toLower(durableHubName)}-applease'
  '${toLower(durableHubName)}-largemessages'
]

resource hostContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = [
  for containerName in hostContainerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2024-01-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          enabled: true
          name: 'expire-order-exports'
          type: 'Lifecycle'
          definition: {
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: exportRetentionDays
                }
              }
            }
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${exportContainerName}/'
              ]
            }
          }
        }
      ]
    }
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deploymentContainerName string = deploymentContainer.name
output exportContainerName string = exportContainer.name
output exportContainerName string = exportContainer.name

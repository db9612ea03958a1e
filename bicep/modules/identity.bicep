// The one identity the Function App uses for everything: Storage (host, Durable, deployment package,
// exports), Service Bus, Key Vault references and the Key Vault SDK, and Application Insights ingestion.
// User-assigned so role assignments can be created before the app exists and survive a re-creation.

@description('Name of the user-assigned managed identity.')
param name string

param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId

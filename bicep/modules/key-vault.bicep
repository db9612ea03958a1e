// Key Vault with RBAC authorization holding every secret the code asks for (shared/config/settings.ts
// SECRET_NAMES). Secret VALUES never live in this repository: each is written only when a value is
// passed as a secure parameter (first provisioning, from pipeline secrets); otherwise the secret is
// left alone, so a routine redeploy never overwrites a value an operator rotated in the vault.
// The connection secret redis-url is written by the Redis module from values only ARM knows. PostgreSQL
// needs none: the app logs in with its identity's Entra token (modules/postgres.bicep).

param name string
param location string
param tags object

@description('Turn on for production: a deleted vault or secret cannot be purged before retention ends.')
param enablePurgeProtection bool = false

@description('Values keyed by Key Vault secret name; an empty or absent value leaves that secret untouched.')
@secure()
param secretValues object = {}

// Every Key Vault secret name in SECRET_NAMES (tests/infra checks this list against the code).
var appSecretNames = [
  'admin-token'
  'stripe-secret-key'
  'stripe-webhook-secret'
  'jwt-signing-keys'
  'fernet-keys'
  'blind-index-key'
  'cursor-signing-keys'
]

// Absent keys become '' so the loop below can index every name.
var emptyValues = toObject(appSecretNames, secretName => secretName, secretName => '')
var values = union(emptyValues, secretValues)

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // The property only accepts true (or absence): false is rejected once it was ever true.
    enablePurgeProtection: enablePurgeProtection ? true : null
    // Flex Consumption cannot resolve Key Vault references against a network-restricted vault, so the
    // vault stays publicly reachable and is protected by Entra ID + RBAC alone.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource appSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for secretName in appSecretNames: if (!empty(values[secretName])) {
    parent: vault
    name: secretName
    properties: {
      value: values[secretName]
      contentType: 'text/plain'
    }
  }
]

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri

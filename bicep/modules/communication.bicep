// Customer emails (issue #18): an Email Communication Service with an Azure-managed domain
// (<id>.azurecomm.net, verified by Azure, no DNS to set up), linked to a Communication Services resource
// that the app sends through with its user-assigned identity. Resource types, API version and shape
// follow the Microsoft.Communication samples in Azure/bicep-types-az (generated/communication,
// 2023-03-31). A custom domain can replace the managed one later without code changes: the sender
// address is an app setting.

param name string
param tags object
param principalId string

@description('Where ACS stores its data at rest (the service is global).')
param dataLocation string = 'Europe'

// "Communication and Email Service Owner": the built-in role that lets an Entra identity send email
// (learn.microsoft.com/azure/communication-services/how-tos/managed-identity).
var emailSenderRoleId = '09976791-48a7-449e-bb21-39d1a415f350'

resource emailService 'Microsoft.Communication/emailServices@2023-03-31' = {
  name: '${name}-email'
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

resource domain 'Microsoft.Communication/emailServices/domains@2023-03-31' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    // Order emails are transactional: no tracking pixels or rewritten links.
    userEngagementTracking: 'Disabled'
  }
}

resource communication 'Microsoft.Communication/communicationServices@2023-03-31' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: [
      domain.id
    ]
  }
}

resource emailSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, principalId, emailSenderRoleId)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', emailSenderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output endpoint string = 'https://${communication.properties.hostName}'
output senderAddress string = 'DoNotReply@${domain.properties.mailFromSenderDomain}'

// Optional Azure Front Door (Standard) profile. Split from its routes because the Function App needs
// the profile's id (x-azure-fdid access restriction) and the origin needs the app's host name.
// Shape follows the quickstart front-door-standard-premium-app-service-public.

param name string
param tags object

resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: name
  location: 'global'
  tags: tags
  sku: {
    name: 'Standard_AzureFrontDoor'
  }
}

output id string = profile.id
output name string = profile.name
output frontDoorId string = profile.properties.frontDoorId

// Log Analytics workspace and the workspace-based Application Insights component the app and the
// alerts use. Shapes and API versions follow Azure-Samples/azure-functions-flex-consumption-samples.

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object

@description('Days telemetry is kept. 30 is the free retention of the workspace.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    retentionInDays: retentionInDays
    features: {
      searchVersion: 1
    }
    sku: {
      name: 'PerGB2018'
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    // Local (instrumentation key) auth stays on: the applicationinsights Node SDK sends custom events
    // (PaymentFailed …) with the connection string. The Functions host itself uses Entra ID
    // (APPLICATIONINSIGHTS_AUTHENTICATION_STRING + Monitoring Metrics Publisher).
    DisableLocalAuth: false
  }
}

output workspaceId string = workspace.id
output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
output connectionString string = appInsights.properties.ConnectionString

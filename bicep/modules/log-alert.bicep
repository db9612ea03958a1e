// One log search alert over Application Insights data (requests, customEvents). Small on purpose:
// alerts.bicep instantiates it once per rule.

param name string
param displayName string
param description string
param location string
param tags object

@description('Application Insights component the query runs against.')
param scope string

param query string

@allowed([
  'Count'
  'Average'
  'Minimum'
  'Maximum'
  'Total'
])
param timeAggregation string

@description('Column aggregated by timeAggregation; empty for Count (rows).')
param metricMeasureColumn string = ''

param threshold int

@allowed([
  0
  1
  2
  3
  4
])
param severity int

param windowSize string = 'PT5M'
param evaluationFrequency string = 'PT5M'
param actionGroupId string

resource rule 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: name
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: displayName
    description: description
    severity: severity
    enabled: true
    scopes: [
      scope
    ]
    evaluationFrequency: evaluationFrequency
    windowSize: windowSize
    criteria: {
      allOf: [
        {
          query: query
          timeAggregation: timeAggregation
          metricMeasureColumn: empty(metricMeasureColumn) ? null : metricMeasureColumn
          operator: 'GreaterThan'
          threshold: threshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}

output id string = rule.id

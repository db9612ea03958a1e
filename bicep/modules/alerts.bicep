// The reference's alerts (project-reference.md, Monitoring) plus dead-lettered messages:
//   checkout latency > 500 ms       → PagerDuty (end to end: POST /api/checkout → confirmed)
//   HTTP error rate > 1 %           → Slack
//   failed payments                 → finance team e-mail (custom event PaymentFailed)
//   disputed payments (chargebacks) → finance team e-mail (custom event PaymentDisputed)
//   dead-lettered Service Bus msgs  → Slack (exports or order events need a look; docs/runbook.md)
//   reconciliation found work       → finance team e-mail (a webhook or an orchestration missed a payment)

param namePrefix string
param location string
param tags object
param appInsightsId string
param serviceBusNamespaceId string
param pagerDutyActionGroupId string
param slackActionGroupId string
param financeActionGroupId string

@description('Mean end-to-end checkout duration (POST /api/checkout accepted → order confirmed) that pages someone.')
param checkoutLatencyThresholdMs int = 500

@description('Server-error percentage (5xx) of HTTP requests that notifies Slack. 1 = 1 %.')
param errorRateThresholdPercent int = 1

// The checkout's own metric (CheckoutDurationMs, emitted when an order confirms, measured from the
// order's creation by POST /api/checkout): the POST itself only answers 202 and says nothing about the
// orchestration behind it. The SDK sends custom metrics as OpenTelemetry histograms aggregated per
// export interval (valueSum/valueCount/valueMax per row, see shared/telemetry/app-insights.ts), so no
// percentile can be computed from them: the mean over the window, once there are enough checkouts.
var checkoutLatencyQuery = '''
customMetrics
| where name == "CheckoutDurationMs"
| summarize checkouts = sum(valueCount), totalMs = sum(valueSum)
| where checkouts >= 5
| extend meanDurationMs = totalMs / checkouts
'''

// HTTP requests only: the Functions host writes one `requests` row per invocation of every trigger
// (timers, Service Bus, orchestrations, activities), without a URL and with resultCode 0 for all but
// HTTP (Azure/azure-functions-host#7023, Azure/azure-webjobs-sdk#1236) — counted, they would dilute
// the rate. 5xx only: 4xx answers (validation, 404, 409, 429) are the API working as designed.
var errorRateQuery = '''
requests
| where isnotempty(url)
| summarize total = count(), failed = countif(toint(resultCode) >= 500)
| where total >= 20
| extend errorRatePercent = 100.0 * failed / total
'''

// Emitted by the checkout code when a PaymentIntent fails (trackEvent('PaymentFailed', …)).
var failedPaymentsQuery = '''
customEvents
| where name == "PaymentFailed"
'''

// Emitted by the reconciliation timer (shared/services/checkout/reconciliation.ts, trackMetric
// 'ReconciliationCount' with customDimensions.outcome) after every run. Only the outcomes that are work
// done for a payment the normal path missed count: a foreign intent or an outside refund is not ours.
// The refund* outcomes are refunds a Stripe outage left pending, driven again by the same timer.
var reconciliationWorkQuery = '''
customMetrics
| where name == "ReconciliationCount"
| where tostring(customDimensions.outcome) in ("finalized", "refunded", "cancelled", "failed", "refundRedriven", "refundRefused", "refundStillPending")
| summarize found = sum(valueSum)
'''

module checkoutLatency 'log-alert.bicep' = {
  name: 'alert-checkout-latency'
  params: {
    name: '${namePrefix}-checkout-latency'
    displayName: 'Checkout duration above ${checkoutLatencyThresholdMs} ms (mean, end to end)'
    description: 'Mean time from POST /api/checkout to a confirmed order over 5 minutes exceeds the threshold. Runbook: docs/runbook.md.'
    location: location
    tags: tags
    scope: appInsightsId
    query: checkoutLatencyQuery
    timeAggregation: 'Maximum'
    metricMeasureColumn: 'meanDurationMs'
    threshold: checkoutLatencyThresholdMs
    severity: 1
    actionGroupId: pagerDutyActionGroupId
  }
}

module errorRate 'log-alert.bicep' = {
  name: 'alert-error-rate'
  params: {
    name: '${namePrefix}-error-rate'
    displayName: 'HTTP server error rate above ${errorRateThresholdPercent} %'
    description: 'Share of HTTP requests answered 5xx over 5 minutes. Runbook: docs/runbook.md.'
    location: location
    tags: tags
    scope: appInsightsId
    query: errorRateQuery
    timeAggregation: 'Maximum'
    metricMeasureColumn: 'errorRatePercent'
    threshold: errorRateThresholdPercent
    severity: 2
    actionGroupId: slackActionGroupId
  }
}

// Emitted by the Stripe webhook on charge.dispute.created (trackEvent('PaymentDisputed', …)): a dispute
// must be answered with evidence before Stripe's deadline (docs.stripe.com/disputes/responding).
var disputedPaymentsQuery = '''
customEvents
| where name == "PaymentDisputed"
'''

module disputedPayments 'log-alert.bicep' = {
  name: 'alert-disputed-payments'
  params: {
    name: '${namePrefix}-disputed-payments'
    displayName: 'Disputed payments (chargebacks)'
    description: 'One or more PaymentDisputed events in the last 5 minutes: answer before Stripe\'s deadline. Runbook: docs/runbook.md.'
    location: location
    tags: tags
    scope: appInsightsId
    query: disputedPaymentsQuery
    timeAggregation: 'Count'
    threshold: 0
    severity: 2
    actionGroupId: financeActionGroupId
  }
}

module failedPayments 'log-alert.bicep' = {
  name: 'alert-failed-payments'
  params: {
    name: '${namePrefix}-failed-payments'
    displayName: 'Failed payments'
    description: 'One or more PaymentFailed events in the last 5 minutes. Runbook: docs/runbook.md.'
    location: location
    tags: tags
    scope: appInsightsId
    query: failedPaymentsQuery
    timeAggregation: 'Count'
    threshold: 0
    severity: 3
    actionGroupId: financeActionGroupId
  }
}

module reconciliationWork 'log-alert.bicep' = {
  name: 'alert-reconciliation-work'
  params: {
    name: '${namePrefix}-reconciliation-work'
    displayName: 'Payment reconciliation found work'
    description: 'Reconciliation finalized, refunded or cancelled a payment the webhook and the checkout orchestration missed, or failed to. Runbook: docs/runbook.md.'
    location: location
    tags: tags
    scope: appInsightsId
    query: reconciliationWorkQuery
    timeAggregation: 'Maximum'
    metricMeasureColumn: 'found'
    threshold: 0
    severity: 3
    actionGroupId: financeActionGroupId
  }
}

resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'Messages were dead-lettered (exports or order events). Runbook: docs/runbook.md.'
    severity: 2
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          name: 'DeadletteredMessages'
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: slackActionGroupId
      }
    ]
  }
}

// Where the reference's alerts go: PagerDuty (checkout latency), Slack (error rate, dead letters) and
// the finance team's mailbox (failed payments). Webhook URLs carry integration keys, so they are
// secure parameters supplied by the pipeline; an empty one yields a group with no receiver.

param namePrefix string
param tags object

@description('PagerDuty "Microsoft Azure" integration URL (https://events.pagerduty.com/integration/<key>/enqueue).')
@secure()
param pagerDutyWebhookUrl string = ''

@description('Slack webhook that accepts Azure Monitor\'s common alert schema (e.g. a Slack workflow webhook).')
@secure()
param slackWebhookUrl string = ''

@description('Finance team mailbox for failed payments.')
param financeEmail string = ''

var pagerDutyReceivers = [
  {
    name: 'pagerduty'
    serviceUri: pagerDutyWebhookUrl
    useCommonAlertSchema: true
  }
]

var slackReceivers = [
  {
    name: 'slack'
    serviceUri: slackWebhookUrl
    useCommonAlertSchema: true
  }
]

var financeReceivers = [
  {
    name: 'finance'
    emailAddress: financeEmail
    useCommonAlertSchema: true
  }
]

resource pagerDuty 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-pagerduty'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'pagerduty'
    enabled: true
    webhookReceivers: empty(pagerDutyWebhookUrl) ? [] : pagerDutyReceivers
  }
}

resource slack 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-slack'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'slack'
    enabled: true
    webhookReceivers: empty(slackWebhookUrl) ? [] : slackReceivers
  }
}

resource finance 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-finance'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'finance'
    enabled: true
    emailReceivers: empty(financeEmail) ? [] : financeReceivers
  }
}

output pagerDutyId string = pagerDuty.id
output slackId string = slack.id
output financeId string = finance.id

// Service Bus namespace with the two queues the app uses. Standard tier: duplicate detection needs it
// (Basic has none). Local (SAS) auth is disabled: the app connects with its managed identity
// (ServiceBusConnection__fullyQualifiedNamespace / __credential / __clientId).

param name string
param location string
param tags object

@description('EXPORT_QUEUE_NAME: export requests (messageId = export id).')
param exportQueueName string = 'order-exports'

@description('ORDER_EVENTS_QUEUE_NAME: order lifecycle events (messageId = event id).')
param orderEventsQueueName string = 'order-events'

@description('Deliveries of one export message before it is dead-lettered.')
@minValue(1)
param exportMaxDeliveryCount int = 5

@description('Deliveries of one order event before it is dead-lettered.')
@minValue(1)
param orderEventsMaxDeliveryCount int = 10

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource exportQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: exportQueueName
  properties: {
    // An export streams a large result set; the trigger renews the lock (host.json
    // maxAutoLockRenewalDuration 10 min), 5 minutes is the maximum single lock.
    lockDuration: 'PT5M'
    maxDeliveryCount: exportMaxDeliveryCount
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P7D'
    // The sender sets messageId = export id: an export requested twice (a client retry) is enqueued once.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    requiresSession: false
    enablePartitioning: false
    maxSizeInMegabytes: 1024
  }
}

resource orderEventsQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: orderEventsQueueName
  properties: {
    lockDuration: 'PT1M'
    maxDeliveryCount: orderEventsMaxDeliveryCount
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
    // Events re-published after a retry carry the same messageId and are dropped here.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    requiresSession: false
    enablePartitioning: false
    maxSizeInMegabytes: 1024
  }
}

output id string = namespace.id
output name string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output exportQueueName string = exportQueue.name
output orderEventsQueueName string = orderEventsQueue.name

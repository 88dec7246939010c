// The Event Grid subscription that feeds the ingest function: blob-created events under its container, sent to the
// blob extension's webhook. Deployed by the postdeploy hook, not with main.bicep: the webhook's blobs_extension key
// exists only once the deployed code holds an Event Grid blob trigger. The key is read here, inside the deployment,
// so it never passes through a command line.
@description('The function app.')
param functionAppName string
@description('The Event Grid system topic of the storage account.')
param systemTopicName string
@description('The blob-triggered function (its registered name).')
param functionName string
@description('The container whose new blobs it handles.')
param containerName string

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

var webhookPath = '/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}'
// sites/host has no resource type of its own (Bicep knows none): its keys are read by resource id.
var blobsExtensionKey = listKeys('${functionApp.id}/host/default', '2024-04-01').systemKeys.blobs_extension

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: '${functionName}-${containerName}'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${functionApp.properties.defaultHostName}${webhookPath}&code=${blobsExtensionKey}'
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/${containerName}/'
    }
    eventDeliverySchema: 'EventGridSchema'
  }
}

output name string = subscription.name

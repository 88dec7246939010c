// The Event Grid system topic of the storage account. Flex Consumption runs blob triggers only from Event Grid; the
// subscription that feeds the ingest function is made by the postdeploy hook, because its webhook needs the
// blobs_extension key, which exists only once the code is deployed.
param name string
param location string
param tags object = {}
param storageAccountName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = topic.name

// The function app on a Flex Consumption plan (FC1): Node 22, deployment package read from blob storage as the
// user-assigned identity, and every storage binding (AzureWebJobsStorage) and telemetry authenticated by that identity.
param name string
param location string
param tags object = {}
param planName string
param identityName string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
@description('Memory of each instance in MB.')
param instanceMemoryMB int
@description('Most instances the app scales out to.')
param maximumInstanceCount int
@description('The app\'s own settings, added to the identity-based connection settings (no secrets: an object parameter is kept in the deployment\'s inputs).')
param appSettings object
@secure()
@description('Key of the Bing Image Search v7 service; empty: the bing provider is unavailable.')
param bingSearchKey string = ''
@secure()
@description('The key the Custom Vision training API checks (Training-Key).')
param customVisionTrainingKey string
@secure()
@description('The key the Custom Vision prediction API checks (Prediction-Key).')
param customVisionPredictionKey string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd deploys the service "api" of azure.yaml to the app that carries this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, {
    // Identity-based storage connection: no key exists to put here (the account has shared keys off).
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identity.properties.clientId
    AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
    AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
    BING_SEARCH_KEY: bingSearchKey
    CUSTOMVISION_TRAINING_KEY: customVisionTrainingKey
    CUSTOMVISION_PREDICTION_KEY: customVisionPredictionKey
    // DefaultAzureCredential (the Container Apps launcher's ARM client) picks the user-assigned identity by this.
    AZURE_CLIENT_ID: identity.properties.clientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
    // The web page is served at / (host.json's routePrefix is empty): the runtime's own home page must not be.
    AzureWebJobsDisableHomepage: 'true'
  })
}

output name string = functionApp.name
output url string = 'https://${functionApp.properties.defaultHostName}'

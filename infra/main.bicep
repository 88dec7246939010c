// The Azure deployment of the image classifier (`azd up`): a resource group holding one user-assigned identity, a
// storage account without shared keys, the Functions app on Flex Consumption with its Event Grid topic, monitoring,
// and the trainer as a Container Apps job on serverless GPUs. Laid out as Microsoft's azd quickstart for a
// TypeScript Flex Consumption app with an Event Grid blob trigger, with local modules in app/ and core/.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. Serverless GPUs exist in some regions only (gpuRegions.json).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Function app name; empty: func-<suffix>.')
param functionAppName string = ''

@description('Storage account name (3-24 lower-case letters and digits); empty: st<suffix>.')
param storageAccountName string = ''

@description('User-assigned identity name; empty: id-<suffix>.')
param identityName string = ''

@description('Container registry name (5-50 letters and digits); empty: cr<suffix>.')
param containerRegistryName string = ''

@description('Container Apps job name of the trainer; empty: caj-trainer-<suffix>.')
param trainerJobName string = ''

@description('Memory of each function instance in MB (Flex Consumption: 512, 2048 or 4096).')
@allowed([512, 2048, 4096])
param functionInstanceMemoryMB int = 4096

@description('Most instances the function app scales out to (Flex Consumption: 40 to 1000).')
@minValue(40)
@maxValue(1000)
param functionMaximumInstanceCount int = 40

@description('Where the trainer job runs: Consumption (CPU, every region) or a serverless GPU (some regions, and GPU quota: see the README).')
@allowed(['Consumption', 'Consumption-GPU-NC8as-T4', 'Consumption-GPU-NC24-A100'])
param trainerWorkloadProfileType string = 'Consumption'

@description('The trainer image (set by the postdeploy hook in the azd environment); empty: a placeholder.')
param trainerImage string = ''

@secure()
@description('Key of a service speaking the Bing Image Search v7 API; empty: the bing provider is unavailable.')
param bingSearchKey string = ''

// The keys the Custom Vision API checks (Training-Key, Prediction-Key): set once per environment before the first
// `azd up` (`azd env set CUSTOMVISION_TRAINING_KEY "$(openssl rand -hex 24)"`, the same for the prediction key), so
// that they last across provisions; they reach the app as secure parameters and appear in no output.
@secure()
@minLength(16)
@description('The key Custom Vision training clients send as Training-Key (azd env CUSTOMVISION_TRAINING_KEY).')
param customVisionTrainingKey string

@secure()
@minLength(16)
@description('The key Custom Vision prediction clients send as Prediction-Key (azd env CUSTOMVISION_PREDICTION_KEY).')
param customVisionPredictionKey string

@description('Object id of the developer running azd: given data access to the storage account (icf upload).')
param principalId string = ''

@description('Kind of that principal.')
@allowed(['User', 'ServicePrincipal'])
param principalType string = 'User'

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}${resourceToken}'
// Flex Consumption reads the app's package from this container; the code never touches it.
var deploymentContainerName = 'app-package-${take(appName, 32)}-${take(resourceToken, 7)}'

// The containers, queues and tables the code uses (test/infra/crossCheck.test.ts keeps them in step with src/).
var blobContainerNames = ['incoming', 'quarantine', 'config', 'models', 'features', 'backbones']
var queueNames = ['search-jobs', 'train-jobs']
var tableNames = ['imagecatalog', 'collectruns', 'trainjobs']
// The blob-triggered function fed by Event Grid, and the container it watches.
var ingestFunctionName = 'ingest'
var incomingContainerName = 'incoming'
var trainerImageName = 'icf-trainer'
// The trainer image's base (infra/trainer.Dockerfile's BASE_IMAGE default): the postdeploy hook copies it into the
// registry once and builds from that copy.
var trainerBaseImage = 'nvcr.io/nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04'
// Regions with serverless GPUs, per profile (the preprovision hook reads the same file).
var gpuRegions = loadJsonContent('gpuRegions.json')
var trainerUsesGpu = trainerWorkloadProfileType != 'Consumption'
// A ternary, not ||: only the branch taken is evaluated, and gpuRegions has no Consumption key.
var trainerRegionHasProfile = trainerUsesGpu ? contains(gpuRegions[trainerWorkloadProfileType], location) : true

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: !empty(identityName) ? identityName : '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    blobContainerNames: concat(blobContainerNames, [deploymentContainerName])
    queueNames: queueNames
    tableNames: tableNames
  }
}

module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: '${abbrs.eventGridDomainsTopics}storage-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
  }
}

module trainer 'app/trainer.bicep' = {
  name: 'trainer'
  scope: rg
  params: {
    location: location
    tags: tags
    registryName: !empty(containerRegistryName)
      ? containerRegistryName
      : '${abbrs.containerRegistryRegistries}${resourceToken}'
    environmentName: '${abbrs.appManagedEnvironments}${resourceToken}'
    jobName: !empty(trainerJobName) ? trainerJobName : '${abbrs.appJobs}trainer-${resourceToken}'
    logAnalyticsName: monitoring.outputs.logAnalyticsName
    // Refused here, before anything is created, where the region has no serverless GPUs of that type (the
    // preprovision hook says the same earlier, when it knows the region).
    image: trainerImage
    workloadProfileType: trainerRegionHasProfile
      ? trainerWorkloadProfileType
      : fail('Region ${location} has no serverless GPUs of type ${trainerWorkloadProfileType}. Regions that have them: ${join(gpuRegions[trainerWorkloadProfileType], ' ')}. Choose one, or set TRAINER_WORKLOAD_PROFILE_TYPE to Consumption (CPU).')
    identityName: identity.outputs.name
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
  }
}

module api 'app/function.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: appName
    location: location
    tags: tags
    planName: '${abbrs.webServerFarms}${resourceToken}'
    identityName: identity.outputs.name
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    instanceMemoryMB: functionInstanceMemoryMB
    maximumInstanceCount: functionMaximumInstanceCount
    bingSearchKey: bingSearchKey
    customVisionTrainingKey: customVisionTrainingKey
    customVisionPredictionKey: customVisionPredictionKey
    appSettings: {
      // The app's own settings (src/config.ts); the defaults are the code's, written out so that they show.
      // Flex Consumption runs blob triggers only from Event Grid (the subscription: hooks/postdeploy).
      INGEST_BLOB_SOURCE: 'EventGrid'
      INGEST_MAX_FILE_BYTES: '52428800'
      INGEST_MAX_PIXELS: '64000000'
      INGEST_MIN_SIDE_PX: '64'
      INGEST_MAX_ASPECT_RATIO: '8'
      DECODE_PIXEL_BUDGET: '128000000'
      DEDUP_NEAR_DUPLICATE_MAX_BITS: '24'
      SPLIT_GROUP_MAX_BITS: '48'
      DEDUP_MAX_RELATIVE_DISTANCE: '0.4'
      SPLIT_TEST_FRACTION: '0.2'
      COLLECT_SCHEDULE: '0 0 3 * * *'
      BING_SEARCH_ENDPOINT: 'https://api.cognitive.microsoft.com'
      OPENVERSE_ENDPOINT: 'https://api.openverse.org'
      COLLECT_DOWNLOAD_TIMEOUT_MS: '20000'
      COLLECT_DOWNLOAD_MAX_BYTES: '20971520'
      COLLECT_MAX_REDIRECTS: '5'
      COLLECT_DOWNLOAD_CONCURRENCY: '4'
      COLLECT_QUERY_TIMEOUT_MS: '300000'
      COLLECT_ALLOW_PRIVATE_ADDRESSES: 'false'
      SERVE_MODEL_RECHECK_MS: '5000'
      SERVE_BATCH_WINDOW_MS: '0'
      SERVE_BATCH_MAX_WAIT_MS: '50'
      SERVE_MODEL_MEMORY_MB: '1024'
      SERVE_WARM_UP: '*'
      HTTP_ALLOWED_ORIGINS: ''
      HTTP_ALLOWED_HOSTS: ''
      // Training runs as the Container Apps job: a Flex Consumption instance is reclaimed once its invocations end,
      // and with it any trainer process it started (see the README's deploy section).
      TRAIN_LAUNCHER: 'containerapps'
      TRAIN_EXECUTION_PROVIDERS: trainer.outputs.executionProviders
      TRAIN_HEARTBEAT_EXPIRY_S: '180'
      TRAIN_CONTAINERAPPS_SUBSCRIPTION_ID: subscription().subscriptionId
      TRAIN_CONTAINERAPPS_RESOURCE_GROUP: rg.name
      TRAIN_CONTAINERAPPS_JOB_NAME: trainer.outputs.jobName
      TRAIN_CONTAINERAPPS_CONTAINER_NAME: trainer.outputs.containerName
      // Empty: each execution runs the job's own image, which the postdeploy hook keeps current.
      TRAIN_CONTAINERAPPS_IMAGE: ''
    }
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    developerPrincipalId: principalId
    developerPrincipalType: principalType
  }
}

// azd stores these in the environment (.azure/<env>/.env), where the hooks and the README's commands read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output FUNCTION_APP_URL string = api.outputs.url
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output INCOMING_CONTAINER_NAME string = incomingContainerName
output INGEST_FUNCTION_NAME string = ingestFunctionName
output EVENT_GRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name
output AZURE_CONTAINER_REGISTRY_NAME string = trainer.outputs.registryName
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = trainer.outputs.registryLoginServer
output TRAINER_JOB_NAME string = trainer.outputs.jobName
output TRAINER_CONTAINER_NAME string = trainer.outputs.containerName
output TRAINER_IMAGE_NAME string = trainerImageName
output TRAINER_BASE_IMAGE string = trainerBaseImage
output TRAINER_WORKLOAD_PROFILE_TYPE string = trainerWorkloadProfileType
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.applicationInsightsConnectionString

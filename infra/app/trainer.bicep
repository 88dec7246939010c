// The trainer: a container registry for its image, a Container Apps environment with a serverless GPU workload
// profile, and a manual-trigger job that the function app starts once per training job. The job pulls its image and
// reaches storage as the shared identity, and that identity may start this job's executions and nothing more.
param location string
param tags object = {}
param resourceToken string
param registryName string
param environmentName string
param jobName string
param logAnalyticsName string
param identityName string
@description('Principal id of that identity (a parameter, so that role assignment names can derive from it).')
param identityPrincipalId string
param storageAccountName string
@description('Serverless GPU workload profile type of the job.')
@allowed(['Consumption-GPU-NC8as-T4', 'Consumption-GPU-NC24-A100'])
param gpuWorkloadProfileType string
@description('Longest a training run may take, in seconds.')
param replicaTimeoutInSeconds int = 14400

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'
var gpuProfileName = 'gpu'
var containerName = 'trainer'
// A public image for the job's first template: the trainer image is pushed only after provisioning (postprovision
// hook, which then points the job at it), and the launcher names its image on every start anyway.
var placeholderImage = 'mcr.microsoft.com/k8se/quickstart-jobs:latest'
// The whole GPU machine: what each serverless GPU profile gives a replica.
var replicaResources = gpuWorkloadProfileType == 'Consumption-GPU-NC24-A100'
  ? { cpu: json('24'), memory: '220Gi' }
  : { cpu: json('8'), memory: '56Gi' }

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: registryName
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
  }
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identityPrincipalId, acrPullRoleId)
  scope: registry
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
  }
}

resource environment 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logAnalytics.properties.customerId
        sharedKey: logAnalytics.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
      {
        name: gpuProfileName
        workloadProfileType: gpuWorkloadProfileType
      }
    ]
  }
}

resource job 'Microsoft.App/jobs@2025-07-01' = {
  name: jobName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: gpuProfileName
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: replicaTimeoutInSeconds
      // The trainer records its own failure in the job; a retry would train again from the start.
      replicaRetryLimit: 0
      manualTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
      }
      registries: [
        {
          server: registry.properties.loginServer
          identity: identity.id
        }
      ]
    }
    template: {
      containers: [
        {
          name: containerName
          image: placeholderImage
          resources: replicaResources
          env: [
            { name: 'TRAIN_EXECUTION_PROVIDERS', value: 'cuda,webgpu,cpu' }
            { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
            { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
            { name: 'AzureWebJobsStorage__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
            { name: 'AzureWebJobsStorage__queueServiceUri', value: storage.properties.primaryEndpoints.queue }
            { name: 'AzureWebJobsStorage__tableServiceUri', value: storage.properties.primaryEndpoints.table }
            { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
          ]
          volumeMounts: [
            { volumeName: 'cache', mountPath: '/cache' }
          ]
        }
      ]
      volumes: [
        { name: 'cache', storageType: 'EmptyDir' }
      ]
    }
  }
  dependsOn: [acrPull]
}

// Starting executions (and reading the job and its executions, which the launcher polls) and nothing else.
resource jobStarterRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'trainer-job-starter', resourceToken)
  properties: {
    roleName: 'Trainer job starter (${resourceToken})'
    description: 'Starts executions of the image classifier\'s trainer job and reads the job and its executions.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.App/jobs/read'
          'Microsoft.App/jobs/start/action'
          'Microsoft.App/jobs/*/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: [resourceGroup().id]
  }
}

resource jobStarter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(job.id, identityPrincipalId, jobStarterRole.id)
  scope: job
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: jobStarterRole.id
  }
}

output registryName string = registry.name
output registryLoginServer string = registry.properties.loginServer
output environmentName string = environment.name
output jobName string = job.name
output containerName string = containerName

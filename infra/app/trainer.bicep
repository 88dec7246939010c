// The trainer: a container registry for its image, a Container Apps environment, and a manual-trigger job that the
// function app starts once per training job. The job runs on the environment's Consumption (CPU) profile unless a
// serverless GPU profile is asked for: only then does the environment hold one, so that a region or subscription
// without serverless GPUs (or without their quota) still deploys. The job pulls its image and reaches storage as the
// shared identity, and that identity may start this job's executions and nothing more.
param location string
param tags object = {}
param registryName string
param environmentName string
param jobName string
param logAnalyticsName string
param identityName string
@description('Principal id of that identity (a parameter, so that role assignment names can derive from it).')
param identityPrincipalId string
param storageAccountName string
@description('Workload profile type of the job: Consumption (CPU) or a serverless GPU.')
@allowed(['Consumption', 'Consumption-GPU-NC8as-T4', 'Consumption-GPU-NC24-A100'])
param workloadProfileType string
@description('The trainer image the job runs; empty: a placeholder until the postdeploy hook has built one.')
param image string = ''
@description('Longest a training run may take, in seconds.')
param replicaTimeoutInSeconds int = 14400

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'
var jobsOperatorRoleId = 'b9a307c4-5aa3-4b52-ba60-2b17c136cd7b'
var usesGpu = workloadProfileType != 'Consumption'
var gpuProfileName = 'gpu'
var consumptionProfile = { name: 'Consumption', workloadProfileType: 'Consumption' }
var gpuProfile = { name: gpuProfileName, workloadProfileType: workloadProfileType }
var containerName = 'trainer'
// A public image for the job's first template: the trainer image is built only after the app's deployment
// (postdeploy hook, which then points the job at it and records it as TRAINER_IMAGE, so that a later provision
// keeps it).
var placeholderImage = 'mcr.microsoft.com/k8se/quickstart-jobs:latest'
// The whole GPU machine: what each serverless GPU profile gives a replica; on Consumption, the largest replica
// (4 vCPU with 8 GiB: https://learn.microsoft.com/azure/container-apps/workload-profiles-overview).
var replicaResources = {
  Consumption: { cpu: json('4'), memory: '8Gi' }
  'Consumption-GPU-NC8as-T4': { cpu: json('8'), memory: '56Gi' }
  'Consumption-GPU-NC24-A100': { cpu: json('24'), memory: '220Gi' }
}[workloadProfileType]
// Execution providers the trainer tries, in order: on CPU only the CPU one.
var executionProviders = usesGpu ? 'cuda,webgpu,cpu' : 'cpu'

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
    // A GPU profile only when asked for: where a region has no serverless GPUs, or the subscription no GPU quota,
    // an environment that declares one fails to deploy.
    workloadProfiles: usesGpu ? [consumptionProfile, gpuProfile] : [consumptionProfile]
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
    workloadProfileName: usesGpu ? gpuProfileName : consumptionProfile.name
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
          image: empty(image) ? placeholderImage : image
          resources: replicaResources
          env: [
            { name: 'TRAIN_EXECUTION_PROVIDERS', value: executionProviders }
            { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
            { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
            { name: 'AzureWebJobsStorage__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
            { name: 'AzureWebJobsStorage__queueServiceUri', value: storage.properties.primaryEndpoints.queue }
            { name: 'AzureWebJobsStorage__tableServiceUri', value: storage.properties.primaryEndpoints.table }
            { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
          ]
          // No volumes: an execution's start template replaces these containers and cannot carry volume mounts
          // (JobExecutionContainer), so the trainer's /cache is the replica's own disk, kept for one run only.
        }
      ]
    }
  }
  dependsOn: [acrPull]
}

// Starting executions and reading the job and its executions (the launcher reads the job's template, then each
// execution's state), through the built-in Container Apps Jobs Operator role (read, start and stop jobs):
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers. Built in rather than a custom
// role, which would be created and assigned in one deployment and fail first runs while its definition replicates.
resource jobStarter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(job.id, identityPrincipalId, jobsOperatorRoleId)
  scope: job
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', jobsOperatorRoleId)
  }
}

output registryName string = registry.name
output registryLoginServer string = registry.properties.loginServer
output environmentName string = environment.name
output jobName string = job.name
output containerName string = containerName
output executionProviders string = executionProviders

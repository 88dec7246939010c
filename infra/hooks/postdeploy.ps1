# azd postdeploy hook (after `azd deploy` and `azd up`):
# 1. subscribes the ingest function to blob-created events under incoming/ (infra/app/blobSubscription.bicep).
#    Flex Consumption runs blob triggers only from Event Grid, and the webhook needs the blobs_extension system key,
#    which the host creates only once the deployed code holds an Event Grid blob trigger: hence after deploy, after
#    a wait, and with retries (Event Grid's validation handshake fails while the app's host is still starting).
# 2. builds the trainer image in the container registry (ACR Tasks: no local Docker needed) when its inputs changed,
#    tagged by their content, and points the trainer job at it: so the job runs the code that was just deployed.
$ErrorActionPreference = 'Stop'
. ./infra/hooks/lib.ps1

foreach ($name in 'AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME',
  'EVENT_GRID_SYSTEM_TOPIC_NAME', 'INGEST_FUNCTION_NAME', 'INCOMING_CONTAINER_NAME', 'AZURE_CONTAINER_REGISTRY_NAME',
  'AZURE_CONTAINER_REGISTRY_ENDPOINT', 'TRAINER_JOB_NAME', 'TRAINER_CONTAINER_NAME', 'TRAINER_IMAGE_NAME',
  'TRAINER_BASE_IMAGE') {
  if (-not [Environment]::GetEnvironmentVariable($name)) { throw "$name is not set: run this through azd (azd deploy)" }
}
$subscription = $env:AZURE_SUBSCRIPTION_ID

try {
  Invoke-WithRetry 8 "Reading the blobs_extension key of $($env:AZURE_FUNCTION_APP_NAME)" {
    $hasKey = az functionapp keys list --name $env:AZURE_FUNCTION_APP_NAME --resource-group $env:AZURE_RESOURCE_GROUP `
      --subscription $subscription --query "systemKeys.blobs_extension != null" --output tsv 2>$null
    if ($hasKey -ne 'true') { throw 'no blobs_extension key yet' }
  }
} catch {
  throw "The function app $($env:AZURE_FUNCTION_APP_NAME) has no blobs_extension key: is the ingest blob trigger " +
    "deployed with source 'EventGrid'?"
}

Invoke-WithRetry 5 "Subscribing $($env:INGEST_FUNCTION_NAME) to blob events" {
  az deployment group create --resource-group $env:AZURE_RESOURCE_GROUP --subscription $subscription `
    --name blob-subscription --template-file infra/app/blobSubscription.bicep `
    --parameters functionAppName=$env:AZURE_FUNCTION_APP_NAME systemTopicName=$env:EVENT_GRID_SYSTEM_TOPIC_NAME `
    functionName=$env:INGEST_FUNCTION_NAME containerName=$env:INCOMING_CONTAINER_NAME `
    --output none
}
Write-Host "Blobs created under $($env:INCOMING_CONTAINER_NAME)/ now reach $($env:INGEST_FUNCTION_NAME)."

function Test-RegistryHas([string]$Repository, [string]$Tag) {
  $tags = az acr repository show-tags --name $env:AZURE_CONTAINER_REGISTRY_NAME --subscription $subscription `
    --repository $Repository --output tsv 2>$null
  $global:LASTEXITCODE = 0
  return @($tags) -contains $Tag
}

# The CUDA base image, copied once into the registry (from NVIDIA's registry, not Docker Hub: no anonymous pull
# limits), so that each build pulls it from the registry itself.
$baseName = $env:TRAINER_BASE_IMAGE.Substring($env:TRAINER_BASE_IMAGE.IndexOf('/') + 1)
$baseRepository = 'base/' + $baseName.Split(':')[0]
$baseTag = $baseName.Split(':')[1]
if (-not (Test-RegistryHas $baseRepository $baseTag)) {
  Write-Host "Importing $($env:TRAINER_BASE_IMAGE) into $($env:AZURE_CONTAINER_REGISTRY_NAME) as ${baseRepository}:$baseTag..."
  Invoke-WithRetry 3 "Importing $($env:TRAINER_BASE_IMAGE)" {
    az acr import --name $env:AZURE_CONTAINER_REGISTRY_NAME --subscription $subscription `
      --source $env:TRAINER_BASE_IMAGE --image "${baseRepository}:$baseTag" --output none
  }
}

$tag = Get-TrainerImageTag
$image = "$($env:AZURE_CONTAINER_REGISTRY_ENDPOINT)/$($env:TRAINER_IMAGE_NAME):$tag"
if (Test-RegistryHas $env:TRAINER_IMAGE_NAME $tag) {
  Write-Host "The trainer image $($env:TRAINER_IMAGE_NAME):$tag is built already: its inputs have not changed."
} else {
  Write-Host "Building $($env:TRAINER_IMAGE_NAME):$tag in $($env:AZURE_CONTAINER_REGISTRY_NAME) from infra/trainer.Dockerfile..."
  Invoke-WithRetry 3 "Building $($env:TRAINER_IMAGE_NAME):$tag" {
    az acr build --registry $env:AZURE_CONTAINER_REGISTRY_NAME --subscription $subscription `
      --image "$($env:TRAINER_IMAGE_NAME):$tag" `
      --build-arg "BASE_IMAGE=$($env:AZURE_CONTAINER_REGISTRY_ENDPOINT)/${baseRepository}:$baseTag" `
      --file infra/trainer.Dockerfile .
  }
}

az extension add --name containerapp --upgrade --only-show-errors
if ($LASTEXITCODE -ne 0) { throw "az extension add containerapp failed ($LASTEXITCODE)" }
$current = az containerapp job show --name $env:TRAINER_JOB_NAME --resource-group $env:AZURE_RESOURCE_GROUP `
  --subscription $subscription --query "properties.template.containers[?name=='$($env:TRAINER_CONTAINER_NAME)'].image | [0]" `
  --output tsv
if ($LASTEXITCODE -ne 0) { throw "az containerapp job show failed ($LASTEXITCODE)" }
if ($current -eq $image) {
  Write-Host "Trainer job $($env:TRAINER_JOB_NAME) runs $image already."
} else {
  Invoke-WithRetry 3 "Pointing $($env:TRAINER_JOB_NAME) at $image" {
    az containerapp job update --name $env:TRAINER_JOB_NAME --resource-group $env:AZURE_RESOURCE_GROUP `
      --subscription $subscription --container-name $env:TRAINER_CONTAINER_NAME --image $image --output none
  }
  Write-Host "Trainer job $($env:TRAINER_JOB_NAME) now runs $image."
}
# So that a later `azd provision` keeps the image (main.bicep's trainerImage) instead of the placeholder.
azd env set TRAINER_IMAGE $image
if ($LASTEXITCODE -ne 0) { throw "azd env set TRAINER_IMAGE failed ($LASTEXITCODE)" }

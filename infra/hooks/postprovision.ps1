# azd postprovision hook: builds the trainer image from infra/trainer.Dockerfile in the container registry (ACR Tasks:
# no local Docker needed) and points the trainer job at it. azd provides the deployment's outputs as variables.
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $true

foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_CONTAINER_REGISTRY_NAME', 'AZURE_CONTAINER_REGISTRY_ENDPOINT',
  'TRAINER_JOB_NAME', 'TRAINER_CONTAINER_NAME', 'TRAINER_IMAGE_NAME', 'TRAINER_IMAGE_TAG') {
  if (-not [Environment]::GetEnvironmentVariable($name)) {
    throw "$name is not set: run this through azd (azd provision)"
  }
}

$image = "$($env:TRAINER_IMAGE_NAME):$($env:TRAINER_IMAGE_TAG)"
Write-Host "Building $image in $($env:AZURE_CONTAINER_REGISTRY_NAME) from infra/trainer.Dockerfile..."
az acr build --registry $env:AZURE_CONTAINER_REGISTRY_NAME --image $image --file infra/trainer.Dockerfile .
if ($LASTEXITCODE -ne 0) { throw "az acr build failed ($LASTEXITCODE)" }

az extension add --name containerapp --upgrade --only-show-errors
az containerapp job update --name $env:TRAINER_JOB_NAME --resource-group $env:AZURE_RESOURCE_GROUP `
  --container-name $env:TRAINER_CONTAINER_NAME --image "$($env:AZURE_CONTAINER_REGISTRY_ENDPOINT)/$image" --output none
if ($LASTEXITCODE -ne 0) { throw "az containerapp job update failed ($LASTEXITCODE)" }
Write-Host "Trainer job $($env:TRAINER_JOB_NAME) now runs $($env:AZURE_CONTAINER_REGISTRY_ENDPOINT)/$image."

# azd postdeploy hook: subscribes the ingest function to blob-created events under incoming/
# (infra/app/blobSubscription.bicep).
# Flex Consumption runs blob triggers only from Event Grid, and the webhook needs the blobs_extension system key, which
# the host creates only once the deployed code holds an Event Grid blob trigger: hence after deploy, and after a wait.
$ErrorActionPreference = 'Stop'

foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'EVENT_GRID_SYSTEM_TOPIC_NAME',
  'INGEST_FUNCTION_NAME', 'INCOMING_CONTAINER_NAME') {
  if (-not [Environment]::GetEnvironmentVariable($name)) { throw "$name is not set: run this through azd (azd deploy)" }
}

$hasKey = ''
foreach ($attempt in 1..12) {
  $hasKey = az functionapp keys list --name $env:AZURE_FUNCTION_APP_NAME --resource-group $env:AZURE_RESOURCE_GROUP `
    --query "systemKeys.blobs_extension != null" --output tsv 2>$null
  if ($hasKey -eq 'true') { break }
  Write-Host "Waiting for the blobs_extension key of $($env:AZURE_FUNCTION_APP_NAME) (try $attempt of 12)..."
  Start-Sleep -Seconds 10
}
if ($hasKey -ne 'true') {
  throw "The function app $($env:AZURE_FUNCTION_APP_NAME) has no blobs_extension key: is the ingest blob trigger " +
    "deployed with source 'EventGrid'?"
}

az deployment group create --resource-group $env:AZURE_RESOURCE_GROUP --name blob-subscription `
  --template-file infra/app/blobSubscription.bicep `
  --parameters functionAppName=$env:AZURE_FUNCTION_APP_NAME systemTopicName=$env:EVENT_GRID_SYSTEM_TOPIC_NAME `
  functionName=$env:INGEST_FUNCTION_NAME containerName=$env:INCOMING_CONTAINER_NAME `
  --output none
if ($LASTEXITCODE -ne 0) { throw "az deployment group create (blob subscription) failed ($LASTEXITCODE)" }
Write-Host "Blobs created under $($env:INCOMING_CONTAINER_NAME)/ now reach $($env:INGEST_FUNCTION_NAME)."

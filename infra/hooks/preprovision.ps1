# azd preprovision hook: refuses, before anything is created, a serverless GPU for the trainer in a region that has
# none (infra/gpuRegions.json, from Microsoft's list), naming the regions that have them.
$ErrorActionPreference = 'Stop'

foreach ($name in 'AZURE_SUBSCRIPTION_ID') {
  if (-not [Environment]::GetEnvironmentVariable($name)) { throw "$name is not set: run this through azd (azd provision)" }
}
$profileType = if ($env:TRAINER_WORKLOAD_PROFILE_TYPE) { $env:TRAINER_WORKLOAD_PROFILE_TYPE } else { 'Consumption' }
if ($profileType -eq 'Consumption') { exit 0 }
if ($profileType -notin 'Consumption-GPU-NC8as-T4', 'Consumption-GPU-NC24-A100') {
  throw "TRAINER_WORKLOAD_PROFILE_TYPE is '$profileType': use Consumption (CPU), Consumption-GPU-NC8as-T4 or " +
    "Consumption-GPU-NC24-A100."
}
# azd asks for the region after this hook on a new environment; main.bicep checks it then.
if (-not $env:AZURE_LOCATION) { exit 0 }

$regions = @((Get-Content -Raw infra/gpuRegions.json | ConvertFrom-Json).$profileType)
if ($env:AZURE_LOCATION -notin $regions) {
  throw "Region '$($env:AZURE_LOCATION)' has no serverless GPUs of type $profileType. Regions that have them: " +
    "$($regions -join ' '). Choose one (azd env set AZURE_LOCATION <region>), or train on CPU " +
    "(azd env set TRAINER_WORKLOAD_PROFILE_TYPE Consumption)."
}
Write-Host "Region $($env:AZURE_LOCATION) has serverless GPUs of type $profileType (you also need GPU quota in it: see the README)."

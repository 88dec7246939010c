# Shared by the PowerShell azd hooks (dot-sourced): retries with backoff, and the trainer image's content tag.
# azd and the Azure CLI sign in separately and may have different default subscriptions, so every `az` call that
# takes one names azd's: --subscription $env:AZURE_SUBSCRIPTION_ID.

# Invoke-WithRetry ATTEMPTS WHAT { command }: runs the block until it succeeds (no exception, exit code 0), at most
# ATTEMPTS times, waiting HOOK_RETRY_DELAY_S (default 10) seconds after the first failure and twice as long after each
# next one, up to 120 s. For what fails on a first run only because Azure has not caught up yet: role assignments
# that have not propagated, a function app whose host has not started, a system key the host has not written.
function Invoke-WithRetry([int]$Attempts, [string]$What, [scriptblock]$Command) {
  $delay = if ($env:HOOK_RETRY_DELAY_S) { [int]$env:HOOK_RETRY_DELAY_S } else { 10 }
  for ($attempt = 1; ; $attempt++) {
    $failed = $false
    try {
      & $Command
      if ($LASTEXITCODE -ne 0) { $failed = $true }
    } catch {
      $failed = $true
    }
    if (-not $failed) { return }
    if ($attempt -ge $Attempts) { throw "$What failed $Attempts times; giving up." }
    Write-Host "$What failed (try $attempt of $Attempts); trying again in ${delay}s..."
    Start-Sleep -Seconds $delay
    $delay = [Math]::Min($delay * 2, 120)
  }
}

# The files the trainer image is built from (infra/trainer.Dockerfile copies these), in a fixed order.
function Get-TrainerImageInputs {
  $files = @('infra/trainer.Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json',
    'host.json') | ForEach-Object { Get-Item $_ }
  $files += @('functions', 'src', 'bench') | ForEach-Object { Get-ChildItem -Path $_ -Recurse -File }
  $root = (Get-Location).Path
  $files | ForEach-Object { [IO.Path]::GetRelativePath($root, $_.FullName).Replace('\', '/') } |
    Sort-Object -CaseSensitive
}

# A tag that changes exactly when the image's inputs do: their names and contents, hashed.
function Get-TrainerImageTag {
  $lines = Get-TrainerImageInputs | ForEach-Object { "$((Get-FileHash -Algorithm SHA256 $_).Hash.ToLower()) $_" }
  $bytes = [Text.Encoding]::UTF8.GetBytes(($lines -join "`n") + "`n")
  $hash = [Security.Cryptography.SHA256]::Create().ComputeHash($bytes)
  return (-join ($hash | ForEach-Object { $_.ToString('x2') })).Substring(0, 16)
}

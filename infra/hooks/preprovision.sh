#!/bin/sh
# azd preprovision hook: refuses, before anything is created, a serverless GPU for the trainer in a region that has
# none (infra/gpuRegions.json, from Microsoft's list), naming the regions that have them.
set -eu

: "${AZURE_SUBSCRIPTION_ID:?is not set: run this through azd (azd provision)}"
profile="${TRAINER_WORKLOAD_PROFILE_TYPE:-Consumption}"
location="${AZURE_LOCATION:-}"

case "$profile" in
  Consumption) exit 0 ;;
  Consumption-GPU-NC8as-T4 | Consumption-GPU-NC24-A100) ;;
  *)
    echo "TRAINER_WORKLOAD_PROFILE_TYPE is '$profile': use Consumption (CPU), Consumption-GPU-NC8as-T4 or" \
      "Consumption-GPU-NC24-A100." >&2
    exit 1
    ;;
esac
# azd asks for the region after this hook on a new environment; main.bicep checks it then.
[ -n "$location" ] || exit 0

# The regions of this profile from infra/gpuRegions.json ({"<profile>": ["region", ...]}), one a line.
regions=$(tr -d ' \n\r\t' <infra/gpuRegions.json | sed -n "s/.*\"$profile\":\[\([^]]*\)\].*/\1/p" | tr -d '"' | tr ',' '\n')
if ! printf '%s\n' "$regions" | grep -qx "$location"; then
  echo "Region '$location' has no serverless GPUs of type $profile. Regions that have them:" \
    "$(printf '%s\n' "$regions" | paste -sd ' ' -)." >&2
  echo "Choose one (azd env set AZURE_LOCATION <region>), or train on CPU" \
    "(azd env set TRAINER_WORKLOAD_PROFILE_TYPE Consumption)." >&2
  exit 1
fi
echo "Region $location has serverless GPUs of type $profile (you also need GPU quota in it: see the README)."

#!/bin/sh
# azd postdeploy hook (after `azd deploy` and `azd up`):
# 1. subscribes the ingest function to blob-created events under incoming/ (infra/app/blobSubscription.bicep).
#    Flex Consumption runs blob triggers only from Event Grid, and the webhook needs the blobs_extension system key,
#    which the host creates only once the deployed code holds an Event Grid blob trigger: hence after deploy, after
#    a wait, and with retries (Event Grid's validation handshake fails while the app's host is still starting).
# 2. builds the trainer image in the container registry (ACR Tasks: no local Docker needed) when its inputs changed,
#    tagged by their content, and points the trainer job at it: so the job runs the code that was just deployed.
set -eu
. ./infra/hooks/lib.sh

: "${AZURE_SUBSCRIPTION_ID:?is not set: run this through azd (azd deploy)}"
: "${AZURE_RESOURCE_GROUP:?is not set: run this through azd (azd deploy)}"
: "${AZURE_FUNCTION_APP_NAME:?is not set}"
: "${EVENT_GRID_SYSTEM_TOPIC_NAME:?is not set}"
: "${INGEST_FUNCTION_NAME:?is not set}"
: "${INCOMING_CONTAINER_NAME:?is not set}"
: "${AZURE_CONTAINER_REGISTRY_NAME:?is not set}"
: "${AZURE_CONTAINER_REGISTRY_ENDPOINT:?is not set}"
: "${TRAINER_JOB_NAME:?is not set}"
: "${TRAINER_CONTAINER_NAME:?is not set}"
: "${TRAINER_IMAGE_NAME:?is not set}"
: "${TRAINER_BASE_IMAGE:?is not set}"

subscription="$AZURE_SUBSCRIPTION_ID"

has_blobs_extension_key() {
  [ "$(az functionapp keys list --name "$AZURE_FUNCTION_APP_NAME" --resource-group "$AZURE_RESOURCE_GROUP" \
    --subscription "$subscription" --query "systemKeys.blobs_extension != null" --output tsv 2>/dev/null)" = true ]
}
if ! retry 8 "Reading the blobs_extension key of $AZURE_FUNCTION_APP_NAME" has_blobs_extension_key; then
  echo "The function app $AZURE_FUNCTION_APP_NAME has no blobs_extension key: is the ingest blob trigger deployed" \
    "with source 'EventGrid'?" >&2
  exit 1
fi

retry 5 "Subscribing $INGEST_FUNCTION_NAME to blob events" \
  az deployment group create --resource-group "$AZURE_RESOURCE_GROUP" --subscription "$subscription" \
  --name blob-subscription --template-file infra/app/blobSubscription.bicep \
  --parameters functionAppName="$AZURE_FUNCTION_APP_NAME" systemTopicName="$EVENT_GRID_SYSTEM_TOPIC_NAME" \
    functionName="$INGEST_FUNCTION_NAME" containerName="$INCOMING_CONTAINER_NAME" \
  --output none
echo "Blobs created under $INCOMING_CONTAINER_NAME/ now reach $INGEST_FUNCTION_NAME."

registry_has() { # registry_has REPOSITORY TAG
  az acr repository show-tags --name "$AZURE_CONTAINER_REGISTRY_NAME" --subscription "$subscription" \
    --repository "$1" --output tsv 2>/dev/null | grep -qx "$2"
}

# The CUDA base image, copied once into the registry (from NVIDIA's registry, not Docker Hub: no anonymous pull
# limits), so that each build pulls it from the registry itself.
base_repository="${TRAINER_BASE_IMAGE#*/}"
base_repository="base/${base_repository%%:*}"
base_tag="${TRAINER_BASE_IMAGE##*:}"
if ! registry_has "$base_repository" "$base_tag"; then
  echo "Importing $TRAINER_BASE_IMAGE into $AZURE_CONTAINER_REGISTRY_NAME as $base_repository:$base_tag..."
  retry 3 "Importing $TRAINER_BASE_IMAGE" \
    az acr import --name "$AZURE_CONTAINER_REGISTRY_NAME" --subscription "$subscription" \
    --source "$TRAINER_BASE_IMAGE" --image "$base_repository:$base_tag" --output none
fi

tag=$(trainer_image_tag)
image="$AZURE_CONTAINER_REGISTRY_ENDPOINT/$TRAINER_IMAGE_NAME:$tag"
if registry_has "$TRAINER_IMAGE_NAME" "$tag"; then
  echo "The trainer image $TRAINER_IMAGE_NAME:$tag is built already: its inputs have not changed."
else
  echo "Building $TRAINER_IMAGE_NAME:$tag in $AZURE_CONTAINER_REGISTRY_NAME from infra/trainer.Dockerfile..."
  retry 3 "Building $TRAINER_IMAGE_NAME:$tag" \
    az acr build --registry "$AZURE_CONTAINER_REGISTRY_NAME" --subscription "$subscription" \
    --image "$TRAINER_IMAGE_NAME:$tag" \
    --build-arg "BASE_IMAGE=$AZURE_CONTAINER_REGISTRY_ENDPOINT/$base_repository:$base_tag" \
    --file infra/trainer.Dockerfile .
fi

az extension add --name containerapp --upgrade --only-show-errors
current=$(az containerapp job show --name "$TRAINER_JOB_NAME" --resource-group "$AZURE_RESOURCE_GROUP" \
  --subscription "$subscription" --query "properties.template.containers[?name=='$TRAINER_CONTAINER_NAME'].image | [0]" \
  --output tsv)
if [ "$current" = "$image" ]; then
  echo "Trainer job $TRAINER_JOB_NAME runs $image already."
else
  retry 3 "Pointing $TRAINER_JOB_NAME at $image" \
    az containerapp job update --name "$TRAINER_JOB_NAME" --resource-group "$AZURE_RESOURCE_GROUP" \
    --subscription "$subscription" --container-name "$TRAINER_CONTAINER_NAME" --image "$image" --output none
  echo "Trainer job $TRAINER_JOB_NAME now runs $image."
fi
# So that a later `azd provision` keeps the image (main.bicep's trainerImage) instead of the placeholder.
azd env set TRAINER_IMAGE "$image"


#!/bin/sh
# azd postprovision hook: builds the trainer image from infra/trainer.Dockerfile in the container registry (ACR Tasks:
# no local Docker needed) and points the trainer job at it. azd provides the deployment's outputs as variables.
set -eu

: "${AZURE_RESOURCE_GROUP:?is not set: run this through azd (azd provision)}"
: "${AZURE_CONTAINER_REGISTRY_NAME:?is not set: run this through azd (azd provision)}"
: "${AZURE_CONTAINER_REGISTRY_ENDPOINT:?is not set}"
: "${TRAINER_JOB_NAME:?is not set}"
: "${TRAINER_CONTAINER_NAME:?is not set}"
: "${TRAINER_IMAGE_NAME:?is not set}"
: "${TRAINER_IMAGE_TAG:?is not set}"

image="$TRAINER_IMAGE_NAME:$TRAINER_IMAGE_TAG"
echo "Building $image in $AZURE_CONTAINER_REGISTRY_NAME from infra/trainer.Dockerfile..."
az acr build --registry "$AZURE_CONTAINER_REGISTRY_NAME" --image "$image" --file infra/trainer.Dockerfile .

az extension add --name containerapp --upgrade --only-show-errors
az containerapp job update --name "$TRAINER_JOB_NAME" --resource-group "$AZURE_RESOURCE_GROUP" \
  --container-name "$TRAINER_CONTAINER_NAME" --image "$AZURE_CONTAINER_REGISTRY_ENDPOINT/$image" --output none
echo "Trainer job $TRAINER_JOB_NAME now runs $AZURE_CONTAINER_REGISTRY_ENDPOINT/$image."

#!/bin/sh
# azd postdeploy hook: subscribes the ingest function to blob-created events under incoming/
# (infra/app/blobSubscription.bicep).
# Flex Consumption runs blob triggers only from Event Grid, and the webhook needs the blobs_extension system key, which
# the host creates only once the deployed code holds an Event Grid blob trigger: hence after deploy, and after a wait.
set -eu

: "${AZURE_RESOURCE_GROUP:?is not set: run this through azd (azd deploy)}"
: "${AZURE_FUNCTION_APP_NAME:?is not set}"
: "${EVENT_GRID_SYSTEM_TOPIC_NAME:?is not set}"
: "${INGEST_FUNCTION_NAME:?is not set}"
: "${INCOMING_CONTAINER_NAME:?is not set}"

has_key=''
for attempt in 1 2 3 4 5 6 7 8 9 10 11 12; do
  has_key=$(az functionapp keys list --name "$AZURE_FUNCTION_APP_NAME" --resource-group "$AZURE_RESOURCE_GROUP" \
    --query "systemKeys.blobs_extension != null" --output tsv 2>/dev/null || true)
  [ "$has_key" = true ] && break
  echo "Waiting for the blobs_extension key of $AZURE_FUNCTION_APP_NAME (try $attempt of 12)..."
  sleep 10
done
if [ "$has_key" != true ]; then
  echo "The function app $AZURE_FUNCTION_APP_NAME has no blobs_extension key: is the ingest blob trigger deployed" \
    "with source 'EventGrid'?" >&2
  exit 1
fi

az deployment group create --resource-group "$AZURE_RESOURCE_GROUP" --name blob-subscription \
  --template-file infra/app/blobSubscription.bicep \
  --parameters functionAppName="$AZURE_FUNCTION_APP_NAME" systemTopicName="$EVENT_GRID_SYSTEM_TOPIC_NAME" \
    functionName="$INGEST_FUNCTION_NAME" containerName="$INCOMING_CONTAINER_NAME" \
  --output none
echo "Blobs created under $INCOMING_CONTAINER_NAME/ now reach $INGEST_FUNCTION_NAME."

// Blob trigger: every new blob under incoming/ is validated, deduplicated and split. The path takes every blob, not
// only {dataset}/{label}/{file}: a blob with too few segments, an empty one or a line break in its name must still
// end in the catalog (rejected, with its reason) and in quarantine, not lie unseen in incoming. The trigger binds a
// client of the blob (sdkBinding), not its bytes: ingest reads its size first and never holds more than the limit.
import { app, type InvocationContext } from '@azure/functions';

import { registerBlobClientBinding, type StorageBlobClient } from '../src/api/blobBinding';
import { loadIngestBlobSource } from '../src/config';
import { appServices, appSettings, type Services } from '../src/services';
import { INCOMING_CONTAINER } from '../src/storage/names';

registerBlobClientBinding(appSettings);

export async function ingest(
  blob: StorageBlobClient,
  context: InvocationContext,
  { ingestor }: Pick<Services, 'ingestor'>,
): Promise<void> {
  const blobPath = `${INCOMING_CONTAINER}/${blob.blobClient.name}`;
  const outcome = await ingestor.ingestStored(blob.blobClient.name, blob.blobClient);
  if (!outcome) {
    context.log(`${blobPath}: gone or replaced since it was found; its new version, if any, is ingested on its own`);
    return;
  }
  context.log(
    `${blobPath}: ${outcome.status}${outcome.split ? ` (${outcome.split})` : ''}${outcome.reason ? `: ${outcome.reason}` : ''}`,
  );
}

app.storageBlob('ingest', {
  path: `${INCOMING_CONTAINER}/{blobPath}`,
  connection: 'AzureWebJobsStorage',
  // Flex Consumption runs blob triggers only from Event Grid (INGEST_BLOB_SOURCE=EventGrid, as infra sets it).
  source: loadIngestBlobSource(appSettings()),
  sdkBinding: true,
  handler: async (blob: StorageBlobClient, context) => ingest(blob, context, await appServices()),
});

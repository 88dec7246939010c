// Blob trigger: every new blob under incoming/ is validated, deduplicated and split. The path takes every blob, not
// only {dataset}/{label}/{file}: a blob with too few segments, an empty one or a line break in its name must still
// end in the catalog (rejected, with its reason) and in quarantine, not lie unseen in incoming.
import { app, type InvocationContext } from '@azure/functions';

import { loadIngestBlobSource } from '../src/config';
import { appSettings, getServices } from '../src/services';
import { INCOMING_CONTAINER } from '../src/storage/names';

export async function ingest(blob: Buffer, context: InvocationContext): Promise<void> {
  const { ingestor } = await getServices();
  const metadata = context.triggerMetadata ?? {};
  const blobPath = String(metadata['blobTrigger']);
  const properties = (metadata['properties'] ?? {}) as { eTag?: string; etag?: string };
  const outcome = await ingestor.ingest({
    blobName: blobPath.slice(INCOMING_CONTAINER.length + 1),
    content: blob,
    metadata: (metadata['metadata'] ?? {}) as Record<string, string>,
    ...((properties.eTag ?? properties.etag) ? { etag: (properties.eTag ?? properties.etag)! } : {}),
  });
  context.log(
    `${blobPath}: ${outcome.status}${outcome.split ? ` (${outcome.split})` : ''}${outcome.reason ? `: ${outcome.reason}` : ''}`,
  );
}

app.storageBlob('ingest', {
  path: `${INCOMING_CONTAINER}/{blobPath}`,
  connection: 'AzureWebJobsStorage',
  // Flex Consumption runs blob triggers only from Event Grid (INGEST_BLOB_SOURCE=EventGrid, as infra sets it).
  source: loadIngestBlobSource(appSettings()),
  handler: ingest,
});

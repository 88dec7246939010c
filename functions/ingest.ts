// Blob trigger: every new blob under incoming/{dataset}/{label}/{name} is validated, deduplicated and split.
import { app, type InvocationContext } from '@azure/functions';
import { INCOMING_CONTAINER } from '../src/dataset/ingest';
import { getServices } from '../src/services';

export async function ingest(blob: Buffer, context: InvocationContext): Promise<void> {
  const { ingestor } = await getServices();
  const metadata = context.triggerMetadata ?? {};
  const blobPath = String(metadata['blobTrigger']);
  const properties = (metadata['properties'] ?? {}) as { eTag?: string; etag?: string };
  const outcome = await ingestor.ingest({
    blobName: blobPath.slice(INCOMING_CONTAINER.length + 1),
    content: blob,
    metadata: (metadata['metadata'] ?? {}) as Record<string, string>,
    ...(properties.eTag ?? properties.etag ? { etag: (properties.eTag ?? properties.etag)! } : {}),
  });
  context.log(`${blobPath}: ${outcome.status}${outcome.split ? ` (${outcome.split})` : ''}${outcome.reason ? `: ${outcome.reason}` : ''}`);
}

app.storageBlob('ingest', {
  path: `${INCOMING_CONTAINER}/{dataset}/{label}/{name}`,
  connection: 'AzureWebJobsStorage',
  handler: ingest,
});

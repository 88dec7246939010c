// The blob trigger's SDK-type binding (`sdkBinding: true`): the Functions host hands the worker where the blob is
// (model binding data of source AzureStorageBlobs: {"Connection", "ContainerName", "BlobName"}, as
// Azure/azure-functions-nodejs-extensions' blob package reads it) instead of its bytes, so a blob of any size costs
// the host nothing and the function reads only what it decides to. This registers the client factory that package
// would, over the app's own storage clients (connection string or identity, as the settings say).
import type { ModelBindingData } from '@azure/functions-extensions-base';
import type { BlobClient, BlobServiceClient, ContainerClient } from '@azure/storage-blob';

import { type RawSettings, storageConnection } from '../config';
import { ProgrammingError } from '../errors';
import { createStorageClients } from '../storage/clients';

/** The source name the Functions host gives blob model binding data. */
export const AZURE_STORAGE_BLOBS = 'AzureStorageBlobs';

/** What a trigger with `sdkBinding: true` receives: the same shape as @azure/functions-extensions-blob gives. */
export interface StorageBlobClient {
  blobClient: BlobClient;
  containerClient: ContainerClient;
}

/** Registers the factory once per process; later calls keep the first (its settings are the process's). */
export function registerBlobClientBinding(settings: () => RawSettings): void {
  // The CommonJS build, by require: it is the one @azure/functions loads, and its resolver is a per-module singleton
  // (the package's ESM build is another module, with a resolver of its own that the worker never asks).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const base = require('@azure/functions-extensions-base') as typeof import('@azure/functions-extensions-base');
  const resolver = base.ResourceFactoryResolver.getInstance();
  if (resolver.hasResourceFactory(AZURE_STORAGE_BLOBS)) return;
  const services = new Map<string, BlobServiceClient>();
  resolver.registerResourceFactory(AZURE_STORAGE_BLOBS, (data) => {
    if (Array.isArray(data)) throw new ProgrammingError('a blob trigger binds one blob, not a batch');
    const { Connection, ContainerName, BlobName } = parseBlobBindingData(data);
    let service = services.get(Connection);
    if (!service) {
      service = createStorageClients(storageConnection(settings(), Connection)).blobs;
      services.set(Connection, service);
    }
    const containerClient = service.getContainerClient(ContainerName);
    return { blobClient: containerClient.getBlobClient(BlobName), containerClient } satisfies StorageBlobClient;
  });
}

// The binding data comes from the Functions host (or the local one), never from a request: data it does not describe
// is a broken contract between host and worker, not a caller's mistake.
function parseBlobBindingData(data: ModelBindingData): { Connection: string; ContainerName: string; BlobName: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.content ?? '').toString('utf8'));
  } catch {
    throw new ProgrammingError('the blob binding data is not JSON');
  }
  const fields = parsed as Partial<Record<'Connection' | 'ContainerName' | 'BlobName', unknown>>;
  for (const field of ['Connection', 'ContainerName', 'BlobName'] as const) {
    if (typeof fields[field] !== 'string' || !fields[field]) {
      throw new ProgrammingError(`the blob binding data has no ${field}`);
    }
  }
  return fields as { Connection: string; ContainerName: string; BlobName: string };
}

// Storage clients built from one connection string, so that every part talks to the same account.
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';

export interface StorageClients {
  blobs: BlobServiceClient;
  queues: QueueServiceClient;
  tables: TableServiceClient;
  table(name: string): TableClient;
}

export function createStorageClients(connectionString: string): StorageClients {
  // Plain http is what Azurite speaks; the SDKs refuse it for tables unless told.
  const allowInsecureConnection = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true|=http:\/\//i.test(
    connectionString,
  );
  return {
    blobs: BlobServiceClient.fromConnectionString(connectionString),
    queues: QueueServiceClient.fromConnectionString(connectionString),
    tables: TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection }),
    table: (name) => TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection }),
  };
}

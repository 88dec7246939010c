// Storage clients built from one connection, so that every part talks to the same account: a connection string
// (Azurite, shared keys), or Microsoft Entra ID tokens for the service URIs (Azure's templates turn shared keys off).
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';

import type { StorageConnection } from '../config';

export interface StorageClients {
  blobs: BlobServiceClient;
  queues: QueueServiceClient;
  tables: TableServiceClient;
  table(name: string): TableClient;
}

export interface StorageClientOptions {
  /** For an identity-based connection; default: the connection's managed identity, or DefaultAzureCredential. */
  credential?: TokenCredential;
}

/** A connection string is the common case (Azurite, `icf --connection-string`); it stands for itself. */
export function createStorageClients(
  connection: StorageConnection | string,
  options: StorageClientOptions = {},
): StorageClients {
  const resolved: StorageConnection =
    typeof connection === 'string' ? { kind: 'connection-string', connectionString: connection } : connection;
  if (resolved.kind === 'connection-string') return fromConnectionString(resolved.connectionString);
  const credential = options.credential ?? credentialFor(resolved);
  return {
    blobs: new BlobServiceClient(resolved.blobServiceUri, credential),
    queues: new QueueServiceClient(resolved.queueServiceUri, credential),
    tables: new TableServiceClient(resolved.tableServiceUri, credential),
    table: (name) => new TableClient(resolved.tableServiceUri, name, credential),
  };
}

/** The credential an identity-based connection names, as the Functions runtime picks it. */
export function credentialFor(connection: Extract<StorageConnection, { kind: 'identity' }>): TokenCredential {
  if (connection.credential === 'managedidentity') {
    return connection.clientId
      ? new ManagedIdentityCredential({ clientId: connection.clientId })
      : new ManagedIdentityCredential();
  }
  return new DefaultAzureCredential(connection.clientId ? { managedIdentityClientId: connection.clientId } : {});
}

function fromConnectionString(connectionString: string): StorageClients {
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

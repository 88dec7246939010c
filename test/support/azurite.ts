// An in-memory Azurite on free ports for one test file, and storage clients for it.
import { type RunningAzurite, startAzurite } from '../../src/storage/azurite';
import { createStorageClients, type StorageClients } from '../../src/storage/clients';

export interface TestStorage {
  azurite: RunningAzurite;
  clients: StorageClients;
}

export async function startTestStorage(): Promise<TestStorage> {
  const azurite = await startAzurite({ blobPort: 0, queuePort: 0, tablePort: 0 });
  return { azurite, clients: createStorageClients(azurite.connectionString) };
}

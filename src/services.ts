// The composition root: builds the domain objects from the app settings once per process.
import { loadSettings, type AppSettings, type RawSettings } from './config';
import { Catalog, CATALOG_TABLE } from './dataset/catalog';
import { INCOMING_CONTAINER, Ingestor, QUARANTINE_CONTAINER, type IngestLogger } from './dataset/ingest';
import { createStorageClients, type StorageClients } from './storage/clients';

export interface Services {
  settings: AppSettings;
  storage: StorageClients;
  catalog: Catalog;
  ingestor: Ingestor;
}

export async function createServices(env: RawSettings = process.env, logger?: IngestLogger): Promise<Services> {
  const settings = loadSettings(env);
  const storage = createStorageClients(settings.storageConnectionString);
  const catalog = new Catalog(storage.table(CATALOG_TABLE));
  const ingestor = new Ingestor({
    catalog,
    incoming: storage.blobs.getContainerClient(INCOMING_CONTAINER),
    quarantine: storage.blobs.getContainerClient(QUARANTINE_CONTAINER),
    ingest: settings.ingest,
    dedup: settings.dedup,
    ...(logger ? { logger } : {}),
  });
  await ingestor.ensureStorage();
  return { settings, storage, catalog, ingestor };
}

let shared: Promise<Services> | undefined;

/** The process-wide services, created on first use from process.env (a failure is retried on the next call). */
export function getServices(): Promise<Services> {
  shared ??= createServices().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

// The composition root: builds the domain objects from the app settings once per process.
import { Collector, CONFIG_CONTAINER, SEARCH_JOBS_QUEUE } from './collect/collector';
import { downloadImage } from './collect/download';
import { BingImageSearchProvider } from './collect/providers/bing';
import { OfflineImageProvider } from './collect/providers/offline';
import { OpenverseProvider } from './collect/providers/openverse';
import { RunStore, RUNS_TABLE } from './collect/runs';
import type { ImageSearchProvider } from './collect/types';
import { loadSettings, type AppSettings, type CollectSettings, type RawSettings } from './config';
import { ConfigurationError } from './errors';
import { Catalog, CATALOG_TABLE } from './dataset/catalog';
import { INCOMING_CONTAINER, Ingestor, QUARANTINE_CONTAINER, type IngestLogger } from './dataset/ingest';
import { createStorageClients, type StorageClients } from './storage/clients';

export interface Services {
  settings: AppSettings;
  storage: StorageClients;
  catalog: Catalog;
  ingestor: Ingestor;
  collector: Collector;
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
  const collector = new Collector({
    config: storage.blobs.getContainerClient(CONFIG_CONTAINER),
    incoming: storage.blobs.getContainerClient(INCOMING_CONTAINER),
    jobs: storage.queues.getQueueClient(SEARCH_JOBS_QUEUE),
    runs: new RunStore(storage.table(RUNS_TABLE)),
    settings: settings.collect,
    provider: providerFactory(settings.collect),
    download: downloadImage,
    ...(logger ? { logger } : {}),
  });
  await Promise.all([ingestor.ensureStorage(), collector.ensureStorage()]);
  return { settings, storage, catalog, ingestor, collector };
}

/** Creates each search provider on first use, from the settings it needs. */
function providerFactory(settings: CollectSettings): (name: 'bing' | 'openverse' | 'offline') => ImageSearchProvider {
  const providers = new Map<string, ImageSearchProvider>();
  const create = (name: 'bing' | 'openverse' | 'offline'): ImageSearchProvider => {
    switch (name) {
      case 'bing':
        if (!settings.bing.key) {
          throw new ConfigurationError('BING_SEARCH_KEY is not set: the collection plan uses the bing provider (see README: Bing retirement)');
        }
        return new BingImageSearchProvider({ endpoint: settings.bing.endpoint, key: settings.bing.key });
      case 'openverse':
        return new OpenverseProvider({ endpoint: settings.openverse.endpoint });
      case 'offline':
        return new OfflineImageProvider();
    }
  };
  return (name) => {
    let provider = providers.get(name);
    if (!provider) providers.set(name, (provider = create(name)));
    return provider;
  };
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

// The composition root: builds the domain objects from the app settings once per process.
import { Collector, CONFIG_CONTAINER, SEARCH_JOBS_QUEUE } from './collect/collector';
import { downloadImage } from './collect/download';
import { BingImageSearchProvider } from './collect/providers/bing';
import { OfflineImageProvider } from './collect/providers/offline';
import { OpenverseProvider } from './collect/providers/openverse';
import { RunStore, RUNS_TABLE } from './collect/runs';
import type { ImageSearchProvider } from './collect/types';
import { PixelBudget } from './util/pixelBudget';
import { loadSettings, type AppSettings, type CollectSettings, type RawSettings } from './config';
import { ConfigurationError } from './errors';
import { JobStore, JOBS_TABLE, TRAIN_JOBS_QUEUE } from './train/jobs';
import { ContainerAppsLauncher, LocalLauncher, type Launcher } from './train/launchers';
import { ModelRegistry, MODELS_CONTAINER } from './train/models';
import { projectRoot } from './util/paths';
import { Classifier } from './serve/classifier';
import { ModelCache } from './serve/modelCache';
import * as path from 'node:path';
import type { QueueClient } from '@azure/storage-queue';
import { Catalog, CATALOG_TABLE } from './dataset/catalog';
import { INCOMING_CONTAINER, Ingestor, QUARANTINE_CONTAINER, type IngestLogger } from './dataset/ingest';
import { createStorageClients, type StorageClients } from './storage/clients';
import { BACKBONES_CONTAINER, BackboneRegistry } from './train/backbones';

export interface Services {
  settings: AppSettings;
  storage: StorageClients;
  catalog: Catalog;
  ingestor: Ingestor;
  collector: Collector;
  training: Training;
  /** Classifies images with each dataset's current model (models loaded once, shared, swapped when retrained). */
  classifier: Classifier;
}

export interface Training {
  jobs: JobStore;
  models: ModelRegistry;
  /** Backbones registered besides the built-in one. */
  backbones: BackboneRegistry;
  queue: QueueClient;
  /** The configured launcher (TRAIN_LAUNCHER), created on first use. */
  launcher(): Launcher;
  /** A running job whose trainer has not beaten for this long is failed when read (TRAIN_HEARTBEAT_EXPIRY_S). */
  heartbeatExpiryInMs: number;
}

export async function createServices(env: RawSettings = process.env, logger?: IngestLogger): Promise<Services> {
  const settings = loadSettings(env);
  const storage = createStorageClients(settings.storageConnectionString);
  const catalog = new Catalog(storage.table(CATALOG_TABLE));
  // One budget for every decode in the process: ingest and classify share the memory they would take.
  const pixelBudget = new PixelBudget(settings.ingest.decodePixelBudget);
  const ingestor = new Ingestor({
    pixelBudget,
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
  const training = createTraining(settings, storage);
  await Promise.all([
    ingestor.ensureStorage(),
    collector.ensureStorage(),
    training.jobs.ensureTable(),
    training.models.ensureContainer(),
    training.queue.createIfNotExists(),
  ]);
  const classifier = new Classifier(
    new ModelCache(training.models, storage.blobs.getContainerClient(MODELS_CONTAINER), {
      recheckIntervalInMs: settings.serve.modelRecheckInMs,
      memoryBudgetBytes: settings.serve.modelMemoryBudgetBytes,
      batch: { windowInMs: settings.serve.batchWindowInMs, maxWaitInMs: settings.serve.batchMaxWaitInMs, maxBatch: 16 },
      log: (message) => console.error(message),
    }),
    settings.ingest,
    pixelBudget,
  );
  return { settings, storage, catalog, ingestor, collector, training, classifier };
}

function createTraining(settings: AppSettings, storage: StorageClients): Training {
  const jobs = new JobStore(storage.table(JOBS_TABLE));
  let launcher: Launcher | undefined;
  const create = (): Launcher => {
    const train = settings.train;
    if (train.launcher === 'containerapps') {
      return new ContainerAppsLauncher({
        ...train,
        environment: { TRAIN_EXECUTION_PROVIDERS: train.executionProviders.join(',') },
        // The job keeps the storage connection string as its secret "storage-connection" (infra sets it).
        secretEnvironment: { AzureWebJobsStorage: 'storage-connection' },
      });
    }
    return new LocalLauncher({
      command: [process.execPath, path.join(projectRoot(), 'dist', 'src', 'train', 'main.js')],
      cwd: projectRoot(),
      env: { AzureWebJobsStorage: settings.storageConnectionString, TRAIN_EXECUTION_PROVIDERS: settings.train.executionProviders.join(',') },
      // A trainer that dies without reporting leaves its job failed, not running forever.
      onExit: (request, exit) => {
        if (exit.code === 0) return;
        void jobs
          .get(request.dataset, request.jobId)
          .then((job) =>
            job.status === 'succeeded' || job.status === 'failed'
              ? undefined
              : jobs.update(request.dataset, request.jobId, {
                  status: 'failed',
                  stage: 'failed',
                  finishedAt: new Date().toISOString(),
                  error: `the trainer exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}: ${exit.stderrTail.trim().split('\n').slice(-3).join(' | ')}`,
                }),
          )
          .catch((error: unknown) => console.error(`train: could not mark job ${request.jobId} failed: ${(error as Error).message}`));
      },
    });
  };
  return {
    jobs,
    models: new ModelRegistry(storage.blobs.getContainerClient(MODELS_CONTAINER)),
    backbones: new BackboneRegistry(storage.blobs.getContainerClient(BACKBONES_CONTAINER)),
    queue: storage.queues.getQueueClient(TRAIN_JOBS_QUEUE),
    launcher: () => (launcher ??= create()),
    heartbeatExpiryInMs: settings.train.heartbeatExpiryInMs,
  };
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

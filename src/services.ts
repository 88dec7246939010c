// The composition root, the one place that builds the domain objects from validated app settings: for the app
// (`appServices`, which the function files hand to their handlers: built once per process, on first use, from the
// settings the host runs the app with), for the local stack and tests (`createServices` with settings of their own,
// or `lazyServices`), and for the trainer process (`createTrainerServices`: only what a training job uses). Handlers
// never fetch services: they are given them (src/api/httpFunction.ts), so a test can give its own.
import { Collector } from './collect/collector';
import { downloadImage } from './collect/download';
import { searchProviderResolver } from './collect/providers/registry';
import { RunStore } from './collect/runs';
import { type AppSettings, loadSettings, processSettings, type RawSettings } from './config';
import { Catalog } from './dataset/catalog';
import { type IngestLogger, Ingestor } from './dataset/ingest';
import { Thumbnails } from './dataset/thumbnails';
import { messageOf } from './errors';
import { ModelRegistry } from './model/registry';
import type { SuspectDependencies } from './review/suspects';
import { Classifier } from './serve/classifier';
import { ModelCache } from './serve/modelCache';
import { createStorageClients, type StorageClients } from './storage/clients';
import {
  BACKBONES_CONTAINER,
  CATALOG_TABLE,
  CONFIG_CONTAINER,
  FEATURES_CONTAINER,
  INCOMING_CONTAINER,
  JOBS_TABLE,
  MODELS_CONTAINER,
  QUARANTINE_CONTAINER,
  RUNS_TABLE,
  SEARCH_JOBS_QUEUE,
  TRAIN_JOBS_QUEUE,
} from './storage/names';
import { BackboneRegistry } from './train/backbones';
import { BlobFeatureCache } from './train/featureCache';
import { JobStore } from './train/jobs';
import { createLauncher, type Launcher } from './train/launchers';
import type { Training } from './train/requests';
import type { TrainerDependencies } from './train/trainer';
import { PixelBudget } from './util/pixelBudget';

export interface Services {
  settings: AppSettings;
  storage: StorageClients;
  catalog: Catalog;
  ingestor: Ingestor;
  collector: Collector;
  training: Training;
  /** Classifies images with each dataset's current model (models loaded once, shared, swapped when retrained). */
  classifier: Classifier;
  /** Small JPEG previews of catalog images, decoded under ingest's limits and the shared pixel budget. */
  thumbnails: Thumbnails;
  /** What the suspect-label review needs: the serving path, the current model, the images and their cached features. */
  suspects: SuspectDependencies;
}

/** Where a handler's services come from: the app's composition root (`appServices`), or a test's own. */
export type ServicesSource<S = Services> = () => Promise<S>;

export interface CreateServicesOptions {
  /** Receives ingest's decisions; default: none. */
  logger?: IngestLogger;
}

/**
 * Builds the services from app settings as the Functions runtime hands them over (name to string; validated here,
 * a bad one throws a ConfigurationError that names it). Callers pass them explicitly: nothing is read from the
 * process environment here.
 */
export async function createServices(env: RawSettings, options: CreateServicesOptions = {}): Promise<Services> {
  const settings = loadSettings(env);
  const { logger } = options;
  const storage = createStorageClients(settings.storage);
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
    provider: searchProviderResolver(settings.collect),
    download: downloadImage,
    queryTimeoutInMs: settings.collect.queryTimeoutInMs,
    ...(logger ? { logger } : {}),
  });
  const training = createTraining(settings, env, storage);
  await Promise.all([
    ingestor.ensureStorage(),
    collector.ensureStorage(),
    training.jobs.ensureTable(),
    training.models.ensureContainer(),
    training.queue.createIfNotExists(),
  ]);
  const classifier = new Classifier(
    new ModelCache(training.models, {
      recheckIntervalInMs: settings.serve.modelRecheckInMs,
      memoryBudgetBytes: settings.serve.modelMemoryBudgetBytes,
      batch: { windowInMs: settings.serve.batchWindowInMs, maxWaitInMs: settings.serve.batchMaxWaitInMs, maxBatch: 16 },
      log: (message) => console.error(message),
    }),
    settings.ingest,
    { catalog, pixelBudget },
  );
  const thumbnails = new Thumbnails({ catalog, blobs: storage.blobs, ingest: settings.ingest, pixelBudget });
  const suspects: SuspectDependencies = {
    catalog,
    incoming: storage.blobs.getContainerClient(INCOMING_CONTAINER),
    models: training.models,
    classifier,
    dedup: settings.dedup,
    features: new BlobFeatureCache(storage.blobs.getContainerClient(FEATURES_CONTAINER)),
  };
  return { settings, storage, catalog, ingestor, collector, training, classifier, thumbnails, suspects };
}

/**
 * What the trainer process runs a job with, and nothing more: the catalog and the incoming images it reads, the
 * job it reports to, the registries it publishes to and reads backbones from, the feature cache, and the execution
 * providers; built from the same validated settings as the app's services. It ensures only what it writes to.
 */
export async function createTrainerServices(env: RawSettings): Promise<TrainerDependencies> {
  const settings = loadSettings(env);
  const storage = createStorageClients(settings.storage);
  const jobs = new JobStore(storage.table(JOBS_TABLE));
  const models = new ModelRegistry(storage.blobs.getContainerClient(MODELS_CONTAINER));
  await Promise.all([jobs.ensureTable(), models.ensureContainer()]);
  return {
    catalog: new Catalog(storage.table(CATALOG_TABLE)),
    incoming: storage.blobs.getContainerClient(INCOMING_CONTAINER),
    jobs,
    models,
    backbones: new BackboneRegistry(storage.blobs.getContainerClient(BACKBONES_CONTAINER)),
    features: new BlobFeatureCache(storage.blobs.getContainerClient(FEATURES_CONTAINER)),
    executionProviders: settings.train.executionProviders,
  };
}

function createTraining(settings: AppSettings, env: RawSettings, storage: StorageClients): Training {
  const jobs = new JobStore(storage.table(JOBS_TABLE));
  let launcher: Launcher | undefined;
  return {
    jobs,
    models: new ModelRegistry(storage.blobs.getContainerClient(MODELS_CONTAINER)),
    backbones: new BackboneRegistry(storage.blobs.getContainerClient(BACKBONES_CONTAINER)),
    queue: storage.queues.getQueueClient(TRAIN_JOBS_QUEUE),
    // The trainer runs with the host's environment and the app settings this host was given (tests hand over their
    // own), as a Container Apps job gets the app's settings from infra.
    launcher: () => (launcher ??= createLauncher({ settings, appSettings: { ...processSettings(), ...env }, jobs })),
    heartbeatExpiryInMs: settings.train.heartbeatExpiryInMs,
  };
}

/**
 * A lazy composition root: the services built from `settings()` on the first call and shared by the later ones. A
 * failed build (bad settings: a ConfigurationError that names the setting) is retried on the next call; settings
 * that are another object than last time build afresh.
 */
export function lazyServices(settings: () => RawSettings, options: CreateServicesOptions = {}): ServicesSource {
  let built: { settings: RawSettings; services: Promise<Services> } | undefined;
  return () => {
    const current = settings();
    if (built?.settings !== current) {
      const entry = {
        settings: current,
        services: createServices(current, options).catch((error: unknown) => {
          if (built === entry) built = undefined;
          throw error;
        }),
      };
      built = entry;
    }
    return built.services;
  };
}

/** Settings a host handed over with `useAppSettings`, in place of the process environment's. */
let handedOver: RawSettings | undefined;

/**
 * The app settings as the app sees them: those a host handed over with `useAppSettings`, else the process
 * environment's, as on Azure. For what a function file reads when it registers (its trigger's source, say).
 */
export function appSettings(): RawSettings {
  return handedOver ?? processSettings();
}

/**
 * The app's composition root: what the function files register their handlers with. The services are built on the
 * first request, from the app settings (`appSettings`), once per process (again when a host hands over others).
 */
export const appServices: ServicesSource = lazyServices(appSettings);

/**
 * Starts loading the models that SERVE_WARM_UP names, in the background, and returns at once: what an app-start
 * hook calls, so that the load overlaps the host's start and a first request joins it. A failure is logged, never
 * thrown: serving then loads on the first request as it would without a warm-up.
 */
export function warmUpServing(source: ServicesSource, log: (message: string) => void = console.error): void {
  const started = performance.now();
  source()
    .then(async (services) => {
      const loaded = await services.classifier.warmUp(services.settings.serve.warmUp);
      if (loaded.length > 0)
        log(`serve: warm-up loaded ${loaded.join(', ')} in ${Math.round(performance.now() - started)} ms`);
    })
    .catch((error: unknown) => log(`serve: warm-up failed, models load on their first request: ${messageOf(error)}`));
}

/**
 * Hands the app the settings a host runs it with, in place of the process environment's: a local host that stands
 * in for the Functions runtime (tests, benchmarks) calls it before serving. `appServices` builds from them from now
 * on; the returned function restores what was there before, so one host's settings never reach the next.
 */
export function useAppSettings(settings: RawSettings): () => void {
  const previous = handedOver;
  handedOver = settings;
  return () => {
    if (handedOver === settings) handedOver = previous;
  };
}

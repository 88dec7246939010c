// The whole app running locally, as end-to-end tests and benchmarks drive it: an in-memory Azurite on free ports,
// the app settings pointing at it, the services, and the app's function files on the local host. Tooling around the
// app (like src/host/), not domain code: the domain never imports it.
import type { RawSettings } from '../config';
import { type RunningHost, startLocalHost, type StrictHostOptions } from '../host/localHost';
import type { HostConfig } from '../platform/hostConfig';
import { createServices, type Services, useAppSettings } from '../services';
import { type RunningAzurite, startAzurite } from '../storage/azurite';

/** A fixed daily schedule for the collect timer, so that a local app never collects on its own while it runs. */
const QUIET_COLLECT_SCHEDULE = '0 0 3 * * *';

/** App settings for a local app: the storage account (an Azurite's connection string), the quiet schedule, `extra`. */
export function localAppSettings(connectionString: string, extra: RawSettings = {}): RawSettings {
  return { AzureWebJobsStorage: connectionString, COLLECT_SCHEDULE: QUIET_COLLECT_SCHEDULE, ...extra };
}

export interface AppHostOptions {
  /** Folder with host.json and package.json. */
  projectRoot: string;
  /** The function files to load: functions/*.ts under vitest, dist/functions/*.js from a build (not when strict). */
  functionFiles?: readonly string[];
  /** Loads one function file; default: require. */
  loadModule?: (file: string) => Promise<unknown>;
  /** The app settings that both the host's bindings and the app's services run with. */
  settings: RawSettings;
  hostId: string;
  /** How often blob containers are scanned for new blobs; default 60 s (tests that wait on ingest pass less). */
  blobScanIntervalInMs?: number;
  hostConfig?: HostConfig;
  /** Receives the host's log lines; default: dropped. */
  log?: (level: string, message: string) => void;
  /** As strict as Azure (keys, HTTP answers, the app run from a staged package): see LocalHostOptions.strict. */
  strict?: boolean | StrictHostOptions;
}

/**
 * The function files on a local host on a free port, run with `settings` (handed to the app too, in place of the
 * process environment), until it is stopped; stopping restores the settings the app had before.
 */
export async function startAppHost(options: AppHostOptions): Promise<RunningHost> {
  const restoreSettings = useAppSettings(options.settings);
  let host: RunningHost;
  try {
    host = await startLocalHost({
      projectRoot: options.projectRoot,
      ...(options.functionFiles ? { functionFiles: [...options.functionFiles] } : {}),
      ...(options.loadModule ? { loadModule: options.loadModule } : {}),
      ...(options.strict ? { strict: options.strict } : {}),
      settings: options.settings,
      httpPort: 0,
      hostId: options.hostId,
      blobScanIntervalInMs: options.blobScanIntervalInMs ?? 60_000,
      ...(options.hostConfig ? { hostConfig: options.hostConfig } : {}),
      logger: { log: options.log ?? (() => undefined) },
    });
  } catch (error) {
    restoreSettings();
    throw error;
  }
  return {
    ...host,
    stop: async () => {
      try {
        await host.stop();
      } finally {
        restoreSettings();
      }
    },
  };
}

export interface AppStackOptions extends Omit<AppHostOptions, 'settings'> {
  /** Settings added to (or overriding) localAppSettings. */
  extraSettings?: RawSettings;
  /** Seeds data through the services before the host starts (e.g. seedGarments). */
  seed?: (services: Services) => Promise<unknown>;
}

export interface AppStack {
  azurite: RunningAzurite;
  /** The app settings the services and the host run with. */
  settings: RawSettings;
  services: Services;
  host: RunningHost;
  /** Stops the host, then Azurite. */
  close(): Promise<void>;
}

/** A fresh in-memory Azurite, the settings pointing at it, the services, data seeded through them, then the host. */
export async function startAppStack(options: AppStackOptions): Promise<AppStack> {
  const { extraSettings, seed, ...hostOptions } = options;
  const azurite = await startAzurite({ blobPort: 0, queuePort: 0, tablePort: 0 });
  try {
    const settings = localAppSettings(azurite.connectionString, extraSettings);
    const services = await createServices(settings);
    await seed?.(services);
    const host = await startAppHost({ ...hostOptions, settings });
    return {
      azurite,
      settings,
      services,
      host,
      close: async () => {
        try {
          await host.stop();
        } finally {
          await azurite.close();
        }
      },
    };
  } catch (error) {
    await azurite.close();
    throw error;
  }
}

// A local Functions host for machines without Azure Functions Core Tools: it loads the function files
// with the worker's `@azure/functions-core` in place, then serves their HTTP, blob, queue and timer triggers.
// Strict, it is as unforgiving as Azure: it runs the app from what azd would ship (stage.ts), with the app settings
// as its environment, and checks function keys (keys.ts) and answers HTTP as the Functions host does.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadHttpAllowedHosts, storageConnection } from '../config';
import { type HostConfig, readHostConfig } from '../platform/hostConfig';
import { createStorageClients, type StorageClients } from '../storage/clients';
import { BlobTriggerListener, HOSTS_CONTAINER } from './blobTrigger';
import { BLOB_WEBHOOK_PATH, handleBlobWebhook } from './blobWebhook';
import {
  APP_START_HOOK,
  FunctionsCore,
  type HookCallback,
  installFunctionsCore,
  type RegisteredFunction,
  type RpcLogLevel,
} from './functionsCore';
import { HttpTriggerServer } from './httpTrigger';
import type { InvocationLog } from './invoke';
import { BLOBS_EXTENSION_KEY, type GivenKeys, type HostKeys, loadKeys, SECRETS_CONTAINER } from './keys';
import { QueueTriggerListener } from './queueTrigger';
import { effectiveRoute } from './route';
import { stageApp, type StagedApp } from './stage';
import { TimerTriggerListener } from './timerTrigger';

export interface HostLogger {
  log(level: RpcLogLevel, message: string): void;
}

export interface LocalHostOptions {
  /** Folder with host.json and package.json. */
  projectRoot: string;
  /** Function files to load; default: the files that package.json's `main` glob names. */
  functionFiles?: string[];
  /** Loads one function file; default: require (tests pass their own import). */
  loadModule?: (file: string) => Promise<unknown>;
  /**
   * App settings: the host reads connection strings and %SETTING% references from here (its entry passes the
   * process environment, as the Functions runtime does; tests pass their own and hand them to the app as well).
   */
  settings: Record<string, string | undefined>;
  httpHost?: string;
  /** 0 picks a free port. Default 7071, as `func start`. */
  httpPort?: number;
  hostId?: string;
  /** How often blob containers are scanned for new blobs. */
  blobScanIntervalInMs?: number;
  hostConfig?: HostConfig;
  logger?: HostLogger;
  /**
   * As strict as Azure: `true` or options. The app runs from a staging folder with what azd would ship (the files
   * .funcignore keeps, production dependencies only; `functionFiles` and `loadModule` do not apply), loaded with
   * Node's require, with `settings` as its environment (process-wide, as one app per worker process on Azure: two
   * strict hosts at once share it); HTTP routes check function keys and answer as Azure does.
   */
  strict?: boolean | StrictHostOptions;
}

export interface StrictHostOptions {
  /** Keys to use; the others are read from the `azure-webjobs-secrets` container, else generated. */
  keys?: GivenKeys;
  /** Where staging folders go; default the system's temporary folder (outside the project's node_modules). */
  stagingParentDir?: string;
}

export interface RunningHost {
  url: string;
  functions: { name: string; trigger: string }[];
  /** Strict: the keys the host checks (the master key, host keys, system keys, each function's keys). */
  keys?: HostKeys;
  /** Strict: the staging folder the app runs from (removed when the host stops). */
  stagedRoot?: string;
  /** Scans blob-trigger containers now (tests use it instead of waiting for the next scan). */
  scanBlobsNow(): Promise<void>;
  stop(): Promise<void>;
}

let coreInstalled: FunctionsCore | undefined;

export async function startLocalHost(options: LocalHostOptions): Promise<RunningHost> {
  if (!options.strict) return startHost(options, undefined);
  if (options.functionFiles || options.loadModule)
    throw new Error('a strict host loads the function files package.json names, from the staged app');
  const strict = options.strict === true ? {} : options.strict;
  const staged = stageApp({
    projectRoot: options.projectRoot,
    ...(strict.stagingParentDir ? { parentDir: strict.stagingParentDir } : {}),
  });
  const restoreEnvironment = useEnvironment(options.settings);
  try {
    return await startHost({ ...options, projectRoot: staged.root }, { options: strict, staged, restoreEnvironment });
  } catch (error) {
    unloadStaged(staged);
    restoreEnvironment();
    throw error;
  }
}

interface StrictRun {
  options: StrictHostOptions;
  staged: StagedApp;
  restoreEnvironment: () => void;
}

async function startHost(options: LocalHostOptions, strict: StrictRun | undefined): Promise<RunningHost> {
  const { settings } = options;
  const logger = options.logger ?? consoleLogger;
  const hostConfig = options.hostConfig ?? readHostConfig(path.join(options.projectRoot, 'host.json'));
  const hostId = options.hostId ?? defaultHostId();

  // One core per process: `@azure/functions` keeps the core module it found for its lifetime.
  const core = (coreInstalled ??= createCore(logger));
  const files = options.functionFiles ?? functionFilesFromPackage(options.projectRoot);
  if (files.length === 0)
    throw new Error(`no function files found (package.json "main" in ${options.projectRoot}); run npm run build`);
  let functions: RegisteredFunction[];
  let appStarts: HookCallback[];
  if (strict) {
    // Node's own require from the staged package, as the worker loads it; its registrations are this host's alone
    // (a lax host in the same process keeps its own, and a later strict host stages and registers afresh).
    const requireStaged = createRequire(path.join(options.projectRoot, 'package.json'));
    const others = core.functions.splice(0);
    const otherAppStarts = core.hooks.get(APP_START_HOOK)?.splice(0) ?? [];
    try {
      for (const file of files) requireStaged(file);
      functions = core.functions.splice(0);
      appStarts = core.hooks.get(APP_START_HOOK)?.splice(0) ?? [];
    } finally {
      core.functions.splice(0, core.functions.length, ...others);
      if (otherAppStarts.length > 0) core.hooks.set(APP_START_HOOK, otherAppStarts);
    }
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- function files are found at run time, by path
    const load = options.loadModule ?? ((file: string) => Promise.resolve(require(file) as unknown));
    for (const file of files) await load(file);
    functions = [...core.functions];
    appStarts = [...(core.hooks.get(APP_START_HOOK) ?? [])];
  }
  if (functions.length === 0) {
    throw new Error(
      `the function files registered nothing: was @azure/functions loaded (and switched to test mode) before the local host started? Files: ${files.join(', ')}`,
    );
  }

  const resolveSetting = (value: string) =>
    value.replace(/%([^%]+)%/g, (_, name: string) => {
      const resolved = settings[name];
      if (resolved === undefined) throw new Error(`app setting "${name}" is referenced as %${name}% but not set`);
      return resolved;
    });
  const clientCache = new Map<string, StorageClients>();
  // A trigger's `connection` names a setting, which holds a connection string or prefixes an identity-based one.
  const clientsFor = (connectionSetting: string) => {
    let clients = clientCache.get(connectionSetting);
    if (!clients)
      clientCache.set(
        connectionSetting,
        (clients = createStorageClients(storageConnection(settings, connectionSetting))),
      );
    return clients;
  };
  const log: InvocationLog = (name, invocationId, level, message) =>
    logger.log(level, `[${name}] ${message}${level === 'error' ? ` (invocation ${invocationId})` : ''}`);
  const onError = (message: string) => logger.log('error', message);

  const blobs = new BlobTriggerListener(core, functions, {
    hostId,
    scanIntervalInMs: options.blobScanIntervalInMs ?? 2000,
    queue: hostConfig.queues,
    clientsFor,
    resolveSetting,
    log,
    onError,
  });
  const keys = strict
    ? await loadKeys({
        secrets: clientsFor('AzureWebJobsStorage').blobs.getContainerClient(SECRETS_CONTAINER),
        hostId,
        httpFunctionNames: functions
          .filter((fn) => Object.values(fn.metadata.bindings).some((b) => b.type === 'httpTrigger'))
          .map((fn) => fn.metadata.name),
        ...(strict.options.keys ? { given: strict.options.keys } : {}),
      })
    : undefined;
  const http = new HttpTriggerServer(core, functions, {
    host: options.httpHost ?? '127.0.0.1',
    port: options.httpPort ?? 7071,
    routePrefix: hostConfig.http.routePrefix,
    allowedHosts: loadHttpAllowedHosts(settings),
    hostEndpoints: {
      [BLOB_WEBHOOK_PATH]: {
        systemKey: BLOBS_EXTENSION_KEY,
        handle: (url, method, headers, body) =>
          handleBlobWebhook(blobs, url, method, headers, body, {
            onRejected: (message) => logger.log('warning', message),
          }),
      },
    },
    ...(keys
      ? {
          strict: {
            keys,
            homepageDisabled: (settings['AzureWebJobsDisableHomepage'] ?? '').toLowerCase() === 'true',
          },
        }
      : {}),
    log,
    onError,
  });
  for (const shadowed of http.shadowedRoutes)
    logger.log(
      'warning',
      `http: function "${shadowed.name}" (${shadowed.route}) is shadowed: "${shadowed.by}" comes first in the host's order (function names, case-insensitive) and takes /${shadowed.path}`,
    );
  const queues = new QueueTriggerListener(core, functions, {
    config: hostConfig.queues,
    clientsFor,
    resolveSetting,
    log,
    onError,
  });
  const timers = new TimerTriggerListener(core, functions, {
    hostId,
    hosts: clientsFor('AzureWebJobsStorage').blobs.getContainerClient(HOSTS_CONTAINER),
    ...(settings['WEBSITE_TIME_ZONE'] ? { timeZone: settings['WEBSITE_TIME_ZONE'] } : {}),
    resolveSetting,
    log,
    onError,
  });

  // As the Node worker does once the app's files are loaded, before the first invocation: the app's appStart
  // hooks (app.hook.appStart), awaited, an error failing the start.
  for (const hook of appStarts)
    await hook({ hookData: {}, appHookData: {}, functionAppDirectory: options.projectRoot });

  const url = await http.listen();
  await Promise.all([blobs.start(), queues.start(), timers.start()]);
  return {
    url,
    ...(keys && strict ? { keys, stagedRoot: strict.staged.root } : {}),
    functions: functions.map((fn) => ({
      name: fn.metadata.name,
      trigger: triggerDescription(fn, hostConfig.http.routePrefix),
    })),
    scanBlobsNow: () => blobs.scanNow(),
    stop: async () => {
      await timers.stop();
      await blobs.stop();
      await queues.stop();
      await http.close();
      if (strict) {
        unloadStaged(strict.staged);
        strict.restoreEnvironment();
      }
    },
  };
}

/** Forgets the staged modules (a later host loads its own) and removes the staging folder. */
function unloadStaged(staged: StagedApp): void {
  const prefix = `${staged.root}${path.sep}`;
  for (const id of Object.keys(require.cache)) if (id.startsWith(prefix)) delete require.cache[id];
  staged.remove();
}

/** The app settings as the process environment, as the Functions runtime gives them to the worker; undone on stop. */
function useEnvironment(settings: Record<string, string | undefined>): () => void {
  const previous = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    previous.set(key, process.env[key]);
    process.env[key] = value;
  }
  return () => {
    for (const [key, value] of previous) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

function createCore(logger: HostLogger): FunctionsCore {
  const core = new FunctionsCore((level, message) => logger.log(level, message));
  installFunctionsCore(core);
  return core;
}

/** Expands package.json's `main` (e.g. `dist/functions/*.js`), as the Functions host does. */
export function functionFilesFromPackage(projectRoot: string): string[] {
  const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { main?: string };
  if (!pkg.main) return [];
  const pattern = path.join(projectRoot, pkg.main);
  const dir = path.dirname(pattern);
  const base = path.basename(pattern);
  if (!base.includes('*')) return [pattern];
  const regex = new RegExp(
    `^${base
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
  );
  try {
    return readdirSync(dir)
      .filter((name) => regex.test(name))
      .sort()
      .map((name) => path.join(dir, name));
  } catch {
    return [];
  }
}

function triggerDescription(fn: RegisteredFunction, routePrefix: string): string {
  const trigger = Object.values(fn.metadata.bindings).find(
    (b) => b.direction === 'in' && /Trigger$/.test(b.type ?? ''),
  );
  if (!trigger) return 'unknown';
  switch (trigger.type) {
    case 'httpTrigger':
      return `http ${Array.isArray(trigger['methods']) ? (trigger['methods'] as string[]).join(',') : '*'} /${[routePrefix, effectiveRoute(fn.metadata.name, trigger['route']).replace(/^\//, '')].filter(Boolean).join('/')}`;
    case 'blobTrigger':
      return trigger['source'] === 'EventGrid'
        ? `blob ${String(trigger['path'])} (Event Grid: POST ${BLOB_WEBHOOK_PATH}?functionName=Host.Functions.${fn.metadata.name})`
        : `blob ${String(trigger['path'])}`;
    case 'queueTrigger':
      return `queue ${String(trigger['queueName'])}`;
    case 'timerTrigger':
      return `timer ${String(trigger['schedule'])}`;
    default:
      return String(trigger.type);
  }
}

/** Host ids name receipts and queues: lower-case letters, digits and dashes, at most 32 characters. */
function defaultHostId(): string {
  return (
    (`${os.hostname()}`
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 32)
      .replace(/-+$/, '') || 'local') + ''
  );
}

const consoleLogger: HostLogger = {
  log(level, message) {
    const line = `[${new Date().toISOString()}] ${message}`;
    if (level === 'error' || level === 'critical') console.error(line);
    else if (level === 'warning') console.warn(line);
    else if (level !== 'trace' && level !== 'debug') console.log(line);
  },
};

// A local Functions host for machines without Azure Functions Core Tools: it loads the function files
// with the worker's `@azure/functions-core` in place, then serves their HTTP, blob, queue and timer triggers.
import { readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { storageConnection } from '../config';
import { type HostConfig, readHostConfig } from '../platform/hostConfig';
import { createStorageClients, type StorageClients } from '../storage/clients';
import { describeValue } from '../util/describeValue';
import { BlobTriggerListener, HOSTS_CONTAINER } from './blobTrigger';
import { BLOB_WEBHOOK_PATH, handleBlobWebhook } from './blobWebhook';
import { FunctionsCore, installFunctionsCore, type RegisteredFunction, type RpcLogLevel } from './functionsCore';
import { HttpTriggerServer } from './httpTrigger';
import type { InvocationLog } from './invoke';
import { QueueTriggerListener } from './queueTrigger';
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
}

export interface RunningHost {
  url: string;
  functions: { name: string; trigger: string }[];
  /** Scans blob-trigger containers now (tests use it instead of waiting for the next scan). */
  scanBlobsNow(): Promise<void>;
  stop(): Promise<void>;
}

let coreInstalled: FunctionsCore | undefined;

export async function startLocalHost(options: LocalHostOptions): Promise<RunningHost> {
  const { settings } = options;
  const logger = options.logger ?? consoleLogger;
  const hostConfig = options.hostConfig ?? readHostConfig(path.join(options.projectRoot, 'host.json'));
  const hostId = options.hostId ?? defaultHostId();

  // One core per process: `@azure/functions` keeps the core module it found for its lifetime.
  const core = (coreInstalled ??= createCore(logger));
  const files = options.functionFiles ?? functionFilesFromPackage(options.projectRoot);
  if (files.length === 0)
    throw new Error(`no function files found (package.json "main" in ${options.projectRoot}); run npm run build`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- function files are found at run time, by path
  const load = options.loadModule ?? ((file: string) => Promise.resolve(require(file) as unknown));
  for (const file of files) await load(file);
  const functions = [...core.functions];
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
  const http = new HttpTriggerServer(core, functions, {
    host: options.httpHost ?? '127.0.0.1',
    port: options.httpPort ?? 7071,
    routePrefix: hostConfig.http.routePrefix,
    hostEndpoints: {
      [BLOB_WEBHOOK_PATH]: (url, method, headers, body) => handleBlobWebhook(blobs, url, method, headers, body),
    },
    log,
    onError,
  });
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

  const url = await http.listen();
  await Promise.all([blobs.start(), queues.start(), timers.start()]);
  return {
    url,
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
    },
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
      return `http ${Array.isArray(trigger['methods']) ? (trigger['methods'] as string[]).join(',') : '*'} /${[routePrefix, describeValue(trigger['route'] ?? fn.metadata.name).replace(/^\//, '')].filter(Boolean).join('/')}`;
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

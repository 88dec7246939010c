// The app's own function files on the local host, as the end-to-end tests run them (functions/*.ts, loaded with
// vitest's import; or, strict, the build as azd ships it, with keys), on the shared local stack of src/localStack/,
// and a JSON client for the host's API.
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import type { RawSettings } from '../../src/config';
import type { RunningHost } from '../../src/host/localHost';
import {
  type AppHostOptions,
  type AppStack,
  localAppSettings,
  startAppHost as startLocalAppHost,
  startAppStack as startLocalAppStack,
} from '../../src/localStack/appStack';
import type { Services } from '../../src/services';

export type { AppStack } from '../../src/localStack/appStack';
export { seedGarmentPairs, seedGarments } from '../../src/localStack/garmentDatasets';

export const projectRoot = path.resolve(__dirname, '..', '..');

export const appFunctionFiles = readdirSync(path.join(projectRoot, 'functions'))
  .filter((name) => name.endsWith('.ts'))
  .map((name) => path.join(projectRoot, 'functions', name));

/** App settings for a test: the storage account (an Azurite's connection string), a fixed schedule, and `extra`. */
export const testSettings = localAppSettings;

type TestHostOptions = Omit<AppHostOptions, 'projectRoot' | 'functionFiles' | 'loadModule'> & {
  /** Function files loaded besides the app's (probes). */
  extraFunctionFiles?: string[];
};

/**
 * The app's function files on a local host that runs them with `settings` (the host's bindings and the app's
 * services alike), until it is stopped.
 */
export function startAppHost(options: TestHostOptions): Promise<RunningHost> {
  const { extraFunctionFiles, ...rest } = options;
  return startLocalAppHost({ ...rest, ...appFiles(extraFunctionFiles) });
}

/**
 * What the end-to-end tests run against: a fresh Azurite, the app's settings pointing at it (plus `env`), the
 * services, data seeded through them, and the app on the local host. `strict`: as strict as Azure (function keys,
 * Azure's HTTP answers, the built app run from what azd ships: needs `npm run build`), for the tests of what a
 * client sees over HTTP.
 */
export function startAppStack(options: {
  hostId: string;
  env?: RawSettings;
  seed?: (services: Services) => Promise<unknown>;
  /** How often the host scans for new blobs (default 60 s: tests that wait on ingest pass less). */
  blobScanIntervalInMs?: number;
  strict?: boolean;
}): Promise<AppStack> {
  return startLocalAppStack({
    hostId: options.hostId,
    ...(options.blobScanIntervalInMs ? { blobScanIntervalInMs: options.blobScanIntervalInMs } : {}),
    ...(options.strict ? strictApp() : appFiles()),
    ...(options.env || options.strict
      ? { extraSettings: { ...(options.strict ? strictSettings : {}), ...options.env } }
      : {}),
    ...(options.seed ? { seed: options.seed } : {}),
  });
}

/** The staged app cannot find the project's caches (.funcignore drops .cache/): point it at them. */
const strictSettings: RawSettings = { ICF_CACHE_DIR: path.join(projectRoot, '.cache') };

function strictApp(): Pick<AppHostOptions, 'projectRoot' | 'strict'> {
  if (!existsSync(path.join(projectRoot, 'dist', 'functions')))
    throw new Error('a strict host runs the build: run `npm run build` first (npm test does)');
  return { projectRoot, strict: true };
}

function appFiles(extra: string[] = []): Pick<AppHostOptions, 'projectRoot' | 'functionFiles' | 'loadModule'> {
  return { projectRoot, functionFiles: [...appFunctionFiles, ...extra], loadModule: (file) => import(file) };
}

/** A host's `default` host key (a strict host checks keys); undefined for a lax host. */
export function hostKey(host: RunningHost): string | undefined {
  return host.keys?.host['default'];
}

/** The headers that carry a strict host's key (none for a lax host). */
export function keyHeaders(host: RunningHost): Record<string, string> {
  const key = hostKey(host);
  return key ? { 'x-functions-key': key } : {};
}

/** A JSON call to the host's API: `route` is under /api; with a strict host's key. */
export async function callApi<T>(
  host: RunningHost,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${host.url}/api/${route}`, {
    method,
    headers: { 'content-type': 'application/json', ...keyHeaders(host) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

// The app's own function files on the local host, as the end-to-end tests run them (functions/*.ts, loaded with
// vitest's import), on the shared local stack of src/localStack/, and a JSON client for the host's API.
import { readdirSync } from 'node:fs';
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
 * services, data seeded through them, and the app on the local host.
 */
export function startAppStack(options: {
  hostId: string;
  env?: RawSettings;
  seed?: (services: Services) => Promise<unknown>;
  /** How often the host scans for new blobs (default 60 s: tests that wait on ingest pass less). */
  blobScanIntervalInMs?: number;
}): Promise<AppStack> {
  return startLocalAppStack({
    hostId: options.hostId,
    ...(options.blobScanIntervalInMs ? { blobScanIntervalInMs: options.blobScanIntervalInMs } : {}),
    ...appFiles(),
    ...(options.env ? { extraSettings: options.env } : {}),
    ...(options.seed ? { seed: options.seed } : {}),
  });
}

function appFiles(extra: string[] = []): Pick<AppHostOptions, 'projectRoot' | 'functionFiles' | 'loadModule'> {
  return { projectRoot, functionFiles: [...appFunctionFiles, ...extra], loadModule: (file) => import(file) };
}

/** A JSON call to the host's API: `route` is under /api. */
export async function callApi<T>(
  host: RunningHost,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${host.url}/api/${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

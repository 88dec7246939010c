// The app's own function files on the local host, as the end-to-end tests run them, and a small data set of
// generated garments (three patterns) to train on.
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { renderGarment } from '../../src/collect/syntheticImages';
import { INCOMING_CONTAINER } from '../../src/dataset/ingest';
import type { HostConfig } from '../../src/host/hostConfig';
import { startLocalHost, type RunningHost } from '../../src/host/localHost';
import type { Services } from '../../src/services';

export const projectRoot = path.resolve(__dirname, '..', '..');

export const appFunctionFiles = readdirSync(path.join(projectRoot, 'functions'))
  .filter((name) => name.endsWith('.ts'))
  .map((name) => path.join(projectRoot, 'functions', name));

export function startAppHost(options: { hostId: string; blobScanIntervalInMs?: number; extraFunctionFiles?: string[]; hostConfig?: HostConfig }): Promise<RunningHost> {
  return startLocalHost({
    projectRoot,
    functionFiles: [...appFunctionFiles, ...(options.extraFunctionFiles ?? [])],
    loadModule: (file) => import(file),
    settings: process.env,
    httpPort: 0,
    hostId: options.hostId,
    blobScanIntervalInMs: options.blobScanIntervalInMs ?? 60_000,
    ...(options.hostConfig ? { hostConfig: options.hostConfig } : {}),
    logger: { log: () => undefined },
  });
}

/** Uploads and ingests 8 generated t-shirts of each pattern into `dataset` (labels: striped, dotted, leopard). */
export async function seedGarments(services: Services, dataset: string): Promise<void> {
  const incoming = services.storage.blobs.getContainerClient(INCOMING_CONTAINER);
  for (const pattern of ['striped', 'dotted', 'leopard']) {
    for (let i = 0; i < 8; i++) {
      const blobName = `${dataset}/${pattern}/${pattern}-${i}.jpg`;
      const content = await renderGarment({ item: 't-shirt', pattern, seed: 500 + i * 7 + pattern.length });
      await incoming.getBlockBlobClient(blobName).uploadData(content);
      await services.ingestor.ingest({ blobName, content });
    }
  }
}

/** A JSON call to the host's API: `route` is under /api. */
export async function callApi<T>(host: RunningHost, method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${host.url}/api/${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

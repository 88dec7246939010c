// The app's own function files on the local host, as the end-to-end tests run them, and small data sets of
// generated garments (three patterns) to train on: one garment per image, or two (multi-label).
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { renderGarment } from '../../src/collect/syntheticImages';
import { INCOMING_CONTAINER } from '../../src/dataset/ingest';
import { labelFolderFor } from '../../src/dataset/names';
import type { HostConfig } from '../../src/host/hostConfig';
import { startLocalHost, type RunningHost } from '../../src/host/localHost';
import { createServices, type Services } from '../../src/services';
import { startTestStorage, type TestStorage } from './azurite';

export const projectRoot = path.resolve(__dirname, '..', '..');

export const appFunctionFiles = readdirSync(path.join(projectRoot, 'functions'))
  .filter((name) => name.endsWith('.ts'))
  .map((name) => path.join(projectRoot, 'functions', name));

export function startAppHost(options: {
  hostId: string;
  blobScanIntervalInMs?: number;
  extraFunctionFiles?: string[];
  hostConfig?: HostConfig;
  /** Receives the host's log lines; default: dropped. */
  log?: (level: string, message: string) => void;
}): Promise<RunningHost> {
  return startLocalHost({
    projectRoot,
    functionFiles: [...appFunctionFiles, ...(options.extraFunctionFiles ?? [])],
    loadModule: (file) => import(file),
    settings: process.env,
    httpPort: 0,
    hostId: options.hostId,
    blobScanIntervalInMs: options.blobScanIntervalInMs ?? 60_000,
    ...(options.hostConfig ? { hostConfig: options.hostConfig } : {}),
    logger: { log: options.log ?? (() => undefined) },
  });
}

export interface AppStack {
  storage: TestStorage;
  services: Services;
  host: RunningHost;
  /** Stops the host, then Azurite. */
  close(): Promise<void>;
}

/**
 * What the end-to-end tests run against: a fresh Azurite, the app's settings pointing at it (plus `env`), the
 * services, data seeded through them, and the app on the local host.
 */
export async function startAppStack(options: { hostId: string; env?: Record<string, string>; seed?: (services: Services) => Promise<unknown> }): Promise<AppStack> {
  const storage = await startTestStorage();
  Object.assign(process.env, { AzureWebJobsStorage: storage.azurite.connectionString, COLLECT_SCHEDULE: '0 0 3 * * *', ...options.env });
  const services = await createServices();
  await options.seed?.(services);
  const host = await startAppHost({ hostId: options.hostId });
  return {
    storage,
    services,
    host,
    close: async () => {
      await host.stop();
      await storage.azurite.close();
    },
  };
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

/**
 * Uploads and ingests a multi-label set: 6 images of each label set of the three patterns (one pattern, or two
 * different ones), each image two generated t-shirts side by side, in `incoming/{dataset}/{a+b}/`.
 */
export async function seedGarmentPairs(services: Services, dataset: string): Promise<string[][]> {
  const incoming = services.storage.blobs.getContainerClient(INCOMING_CONTAINER);
  const sets = [['dotted'], ['leopard'], ['striped'], ['dotted', 'leopard'], ['dotted', 'striped'], ['leopard', 'striped']];
  for (const [s, set] of sets.entries()) {
    for (let i = 0; i < 6; i++) {
      const seed = 900 + s * 50 + i * 7;
      const halves = await Promise.all([0, 1].map((side) => renderGarment({ item: 't-shirt', pattern: set[side] ?? set[0]!, seed: seed + side, width: 240, height: 240 })));
      const content = await sharp({ create: { width: 480, height: 240, channels: 3, background: '#ffffff' } })
        .composite(halves.map((input, side) => ({ input, left: side * 240, top: 0 })))
        .jpeg({ quality: 90 })
        .toBuffer();
      const blobName = `${dataset}/${labelFolderFor(set)}/${set.join('-')}-${i}.jpg`;
      await incoming.getBlockBlobClient(blobName).uploadData(content);
      await services.ingestor.ingest({ blobName, content });
    }
  }
  return sets;
}

// A container whose listing fails (Azurite answers 500, with no message, once a blob name holds U+0001) is retried
// with backoff and logged with its cause, and the other blob triggers go on; ingest resumes once the name is gone.
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningHost } from '../../src/host/localHost';
import { startAppHost, testSettings } from '../support/appHost';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { noiseImage } from '../support/images';
import { waitFor } from '../support/waitFor';

const probeFile = path.resolve(__dirname, '../fixtures/functions/probes.ts');
let storage: TestStorage;
let host: RunningHost;
const errors: string[] = [];

beforeAll(async () => {
  storage = await startTestStorage();
  const incoming = storage.clients.blobs.getContainerClient('incoming');
  await incoming.createIfNotExists();
  await incoming.getBlockBlobClient('scan/bad/\u0001.jpg').uploadData(Buffer.from('x'));
  const settings = testSettings(storage.azurite.connectionString, { PROBE_QUEUE: 'probe-scan-jobs' });
  host = await startAppHost({
    hostId: 'scan-host',
    settings,
    blobScanIntervalInMs: 100,
    extraFunctionFiles: [probeFile],
    log: (level, message) => level === 'error' && errors.push(message),
  });
});
afterAll(async () => {
  await host?.stop();
  await storage?.azurite.close();
});

describe('a failing blob listing', () => {
  it('is logged with its cause and retried, other triggers go on, and ingest resumes once the name is gone', async () => {
    const { calls } = (await import(probeFile)) as typeof import('../fixtures/functions/probes');
    const before = calls.blobAttempts;
    await storage.clients.blobs
      .getContainerClient('probe-fail')
      .getBlockBlobClient('other.txt')
      .uploadData(Buffer.from('x'));
    await waitFor("the other container's trigger to run", async () => (calls.blobAttempts > before ? true : undefined));
    const logged = await waitFor('the failed listing in the log', async () =>
      errors.find((e) => e.includes('blob scan of ingest (container incoming)')),
    );
    expect(logged).toMatch(
      /^blob scan of ingest \(container incoming\): HTTP 500; retrying with backoff\. A blob whose name holds a control character/,
    );

    await storage.clients.blobs.getContainerClient('incoming').deleteBlob('scan/bad/\u0001.jpg');
    await storage.clients.blobs
      .getContainerClient('incoming')
      .getBlockBlobClient('scan/shapes/fine.jpg')
      .uploadData(await noiseImage(77));
    await host.scanBlobsNow();
    await waitFor('ingest to resume', async () => {
      const response = await fetch(`${host.url}/api/datasets/scan`);
      const body = (await response.json()) as { images?: { accepted: number } };
      return body.images?.accepted === 1 ? true : undefined;
    });
  });
});

// A blob name that Azurite cannot list (it answers 500, with no message, for a page holding U+0001, U+FFFE...) holds
// back only the names that share its prefix: the scan narrows the listing (folder by folder, then by next
// character), reports the range it could not list once, and goes on with the rest of the container, other datasets
// and other triggers; the names it held back are ingested once the bad name is gone.
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
  await incoming.getBlockBlobClient('scan/bad/soh\uffff.jpg').uploadData(Buffer.from('x'));
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

describe('a blob name the listing cannot return', () => {
  it('holds back only its prefix: the rest of its dataset, other datasets and other triggers go on', async () => {
    const { calls } = (await import(probeFile)) as typeof import('../fixtures/functions/probes');
    const before = calls.blobAttempts;
    await storage.clients.blobs
      .getContainerClient('probe-fail')
      .getBlockBlobClient('other.txt')
      .uploadData(Buffer.from('x'));
    const incoming = storage.clients.blobs.getContainerClient('incoming');
    await incoming.getBlockBlobClient('scan/shapes/fine.jpg').uploadData(await noiseImage(77));
    await incoming.getBlockBlobClient('scan/bad/sibling.jpg').uploadData(await noiseImage(78));
    await incoming.getBlockBlobClient('elsewhere/dots/good.jpg').uploadData(await noiseImage(79));
    await host.scanBlobsNow();
    await waitFor("the other container's trigger to run", async () => (calls.blobAttempts > before ? true : undefined));
    const accepted = async (dataset: string) => {
      const response = await fetch(`${host.url}/api/datasets/${dataset}`);
      return ((await response.json()) as { images?: { accepted: number } }).images?.accepted;
    };
    await waitFor('the good blobs of both datasets to be ingested', async () =>
      (await accepted('scan')) === 2 && (await accepted('elsewhere')) === 1 ? true : undefined,
    );
    const reports = errors.filter((e) => e.startsWith('blob scan of ingest (container incoming)'));
    expect(reports.length).toBeGreaterThan(0);
    for (const report of reports) {
      expect(report).toMatch(
        /^blob scan of ingest \(container incoming\): could not list the names under "scan\/bad\/(soh"|" that go on with another character than \[A-Za-z0-9\] and ".*") \(HTTP 500.*\); the rest was scanned\. A blob whose name holds a control character/,
      );
    }
    // Reported once while it lasts, not on every scan.
    const count = reports.length;
    await host.scanBlobsNow();
    await host.scanBlobsNow();
    expect(errors.filter((e) => e.startsWith('blob scan of ingest (container incoming)'))).toHaveLength(count);
  });

  it('lets the names it held back through once it is gone', async () => {
    const incoming = storage.clients.blobs.getContainerClient('incoming');
    // Shares the prefix that the listing cannot get past while soh\uffff.jpg is there.
    await incoming.getBlockBlobClient('scan/bad/soh-ok.jpg').uploadData(await noiseImage(80));
    await host.scanBlobsNow();
    for (const name of ['scan/bad/\u0001.jpg', 'scan/bad/soh\uffff.jpg']) await incoming.deleteBlob(name);
    await host.scanBlobsNow();
    await waitFor('the held-back blob to be ingested', async () => {
      const response = await fetch(`${host.url}/api/datasets/scan`);
      return ((await response.json()) as { images?: { accepted: number } }).images?.accepted === 3 ? true : undefined;
    });
  });
});

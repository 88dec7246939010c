// The local host running the app's real function files against Azurite: HTTP routes, the blob trigger
// end to end (upload with the CLI, ingest, dataset endpoint), queue poison handling, timers, restarts.
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { uploadFolder } from '../../src/cli/upload';
import type { RunningHost } from '../../src/host/localHost';
import { parseHostConfig } from '../../src/platform/hostConfig';
import { projectRoot, startAppHost, testSettings } from '../support/appHost';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { noiseImage } from '../support/images';
import { itWithShared, sharedPath } from '../support/shared';
import { waitFor } from '../support/waitFor';

const probeFile = path.join(projectRoot, 'test', 'fixtures', 'functions', 'probes.ts');

let storage: TestStorage;
let host: RunningHost;
// Imported only after the host has installed @azure/functions-core (a static import would register too early).
let calls: typeof import('../fixtures/functions/probes').calls;
const hostConfig = parseHostConfig({
  version: '2.0',
  extensions: {
    http: { routePrefix: '' },
    queues: {
      maxPollingInterval: '00:00:00.200',
      visibilityTimeout: '00:00:00',
      maxDequeueCount: 3,
      batchSize: 4,
      messageEncoding: 'base64',
    },
  },
});

async function startHost(): Promise<RunningHost> {
  const settings = testSettings(storage.azurite.connectionString, { PROBE_QUEUE: 'probe-jobs' });
  return startAppHost({
    hostId: 'test-host',
    settings,
    blobScanIntervalInMs: 200,
    extraFunctionFiles: [probeFile],
    hostConfig,
  });
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  storage = await startTestStorage();
  // A schedule status whose next occurrence passed while the host was down: the timer must run past due.
  const hosts = storage.clients.blobs.getContainerClient('azure-webjobs-hosts');
  await hosts.createIfNotExists();
  const hourAgo = new Date(Date.now() - 3600_000).toISOString();
  const status = JSON.stringify({ Last: hourAgo, Next: hourAgo, LastUpdated: hourAgo });
  await hosts.getBlockBlobClient('timers/test-host/probeEverySecond/status').upload(status, status.length);
  host = await startHost();
  ({ calls } = (await import(probeFile)) as typeof import('../fixtures/functions/probes'));
});

afterAll(async () => {
  await host?.stop();
  await storage?.azurite.close();
});

describe('local host', () => {
  it('loads every registration from the function files', () => {
    expect(host.functions.map((f) => f.name).sort()).toEqual(
      [
        'classify',
        'collectionPlan',
        'collectRuns',
        'collectScheduled',
        'collectStart',
        'collectStatus',
        'customVisionPrediction',
        'customVisionTraining',
        'datasetChanges',
        'datasetChangeUndo',
        'datasetImage',
        'datasetImages',
        'datasetList',
        'imageThumbnail',
        'modelFile',
        'modelVersion',
        'datasetSummary',
        'datasetSuspects',
        'health',
        'ingest',
        'probeBlob',
        'probeEverySecond',
        'probeQueue',
        'probeTimer',
        'searchWorker',
        'modelList',
        'trainJob',
        'trainJobs',
        'trainLauncher',
        'webAssets',
        'webPage',
        'trainStart',
      ].sort(),
    );
    expect(host.functions.find((f) => f.name === 'collectScheduled')?.trigger).toBe('timer %COLLECT_SCHEDULE%');
    expect(host.functions.find((f) => f.name === 'searchWorker')?.trigger).toBe('queue search-jobs');
    expect(host.functions.find((f) => f.name === 'ingest')?.trigger).toBe('blob incoming/{blobPath}');
  });

  it("runs the app's appStart hooks at its start, before any invocation", () => {
    expect(calls.appStarts[0]).toEqual({ hookData: {}, timerRunsBefore: 0 });
  });

  it('serves HTTP functions under /api, with 404 and 405 for unknown routes and methods', async () => {
    const health = await getJson(`${host.url}/api/health`);
    expect(health).toEqual({ status: 200, body: { status: 'ok', checks: { settings: 'ok', storage: 'ok' } } });
    // JSON like every other error, with the allowed methods.
    expect(await getJson(`${host.url}/api/nothing-here`)).toEqual({
      status: 404,
      body: { error: 'NotFound', code: 'not-found', message: 'no function serves /api/nothing-here' },
    });
    const wrongMethod = await fetch(`${host.url}/api/health`, { method: 'POST' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    expect(await wrongMethod.json()).toEqual({
      error: 'MethodNotAllowed',
      message: 'POST is not allowed on /api/health; use GET',
    });
  });

  it('answers bad dataset requests with 4xx and a message', async () => {
    const unknown = await getJson(`${host.url}/api/datasets/no-such-set`);
    expect(unknown.status).toBe(404);
    expect(unknown.body['message']).toMatch(/no images/);
    const badName = await getJson(`${host.url}/api/datasets/Bad..Name`);
    expect(badName.status).toBe(400);
    expect(badName.body['message']).toMatch(/dataset name/);
    // Cross-site: a page elsewhere cannot start work here, nor send a JSON route a form body.
    const foreign = await fetch(`${host.url}/api/datasets/no-such-set/collect`, {
      method: 'POST',
      headers: { origin: 'http://evil.example' },
    });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { message: string }).message).toMatch(
      /page origin http:\/\/evil\.example may not change anything here/,
    );
    const formBody = await fetch(`${host.url}/api/datasets/no-such-set/train`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"force":true}',
    });
    expect(formBody.status).toBe(415);
    // Client mistakes that once reached storage and came back as 500s.
    for (const route of ['jobs', 'collect']) {
      const slashed = await getJson(`${host.url}/api/datasets/no-such-set/${route}/a%2Fb`);
      expect(slashed.status).toBe(404);
      expect(slashed.body['message']).toMatch(/has no (training job|collection run) "a\/b"/);
    }
  });

  itWithShared('ingests a folder uploaded like `icf upload` within seconds, and reports the right counts', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'icf-upload-'));
    const dhashDir = sharedPath('fixtures', 'dhash');
    await mkdir(path.join(dir, 'dog'));
    await mkdir(path.join(dir, 'eagle'));
    await mkdir(path.join(dir, 'noise'));
    for (const name of ['dog.jpg', 'dog_q30.jpg', 'dog_cmyk.jpg'])
      await copyFile(path.join(dhashDir, name), path.join(dir, 'dog', name));
    for (const name of ['eagle.jpg', 'eagle_lossless.png'])
      await copyFile(path.join(dhashDir, name), path.join(dir, 'eagle', name));
    for (let i = 0; i < 6; i++) await writeFile(path.join(dir, 'noise', `n${i}.jpg`), await noiseImage(300 + i));
    await writeFile(path.join(dir, 'noise', 'broken.jpg'), Buffer.from('GIF89a this is not really anything'));

    const started = Date.now();
    const upload = await uploadFolder(storage.clients.blobs, dir, { dataset: 'demo' });
    expect(upload).toMatchObject({ uploaded: 12, skipped: [] });

    const summary = await waitFor('all 12 images in the catalog', async () => {
      const { status, body } = await getJson(`${host.url}/api/datasets/demo`);
      const images = body['images'] as Record<string, number> | undefined;
      const total = images ? Object.values(images).reduce((a, b) => a + b, 0) : 0;
      return status === 200 && total === 12 ? body : undefined;
    });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(summary['images']).toEqual({ accepted: 8, duplicate: 0, nearDuplicate: 3, rejected: 1 });
    expect(summary['labels']).toEqual({
      dog: { train: 1, test: 0 },
      eagle: { train: 1, test: 0 },
      noise: { train: 5, test: 1 },
    });

    const rejected = await getJson(`${host.url}/api/datasets/demo/images?status=rejected`);
    expect(rejected.status).toBe(200);
    const items = rejected.body['images'] as { name: string; reasonCode: string; reason: string }[];
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ name: 'broken.jpg', reasonCode: 'corrupt-image' });

    const dogs = await getJson(`${host.url}/api/datasets/demo/images?label=dog&status=nearDuplicate`);
    expect((dogs.body['images'] as unknown[]).length).toBe(2);
    expect((await getJson(`${host.url}/api/datasets/demo/images?status=bogus`)).status).toBe(400);
    // A continuation token this API did not give out is the caller's mistake (it once reached storage: a 500).
    const badToken = await getJson(`${host.url}/api/datasets/demo/images?continuationToken=garbage`);
    expect(badToken).toEqual({
      status: 400,
      body: {
        error: 'BadRequest',
        code: 'invalid-argument',
        message: expect.stringMatching(/^continuationToken is not one this API gave out/),
      },
    });
    const firstPage = await getJson(`${host.url}/api/datasets/demo/images?pageSize=2`);
    const secondPage = await getJson(
      `${host.url}/api/datasets/demo/images?pageSize=2&continuationToken=${encodeURIComponent(firstPage.body['continuationToken'] as string)}`,
    );
    expect(secondPage.status).toBe(200);
    expect((secondPage.body['images'] as unknown[]).length).toBe(2);
    expect((await getJson(`${host.url}/api/datasets`)).body).toEqual({ datasets: ['demo'] });
  });

  it('finishes a batch after the host is stopped half way and started again: every blob catalogued once', async () => {
    const container = storage.clients.blobs.getContainerClient('incoming');
    const names = Array.from({ length: 20 }, (_, i) => `restart/shapes/img-${i}.jpg`);
    await Promise.all(
      names.map(async (name, i) => {
        const content = await noiseImage(900 + i);
        await container.getBlockBlobClient(name).uploadData(content);
      }),
    );
    await host.scanBlobsNow();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await host.stop();
    host = await startHost();
    const summary = await waitFor('the restarted host to finish the batch', async () => {
      const { status, body } = await getJson(`${host.url}/api/datasets/restart`);
      return status === 200 && (body['images'] as Record<string, number>)['accepted'] === 20 ? body : undefined;
    });
    expect(summary['labels']).toEqual({ shapes: { train: 16, test: 4 } });
    const listed = await getJson(`${host.url}/api/datasets/restart/images?pageSize=1000`);
    expect((listed.body['images'] as unknown[]).length).toBe(20);
  });

  it('rejects every oddly named blob with its reason, in its dataset and in quarantine, none left unseen', async () => {
    const container = storage.clients.blobs.getContainerClient('incoming');
    // Once these matched no trigger and lay in incoming with no row, no quarantine copy and no log line. The SDK lists
    // the \r name as a literal "a&#xD;b.jpg", so the scan must resolve it.
    const odd = [
      'oddnames/x.jpg',
      'oddnames//x.jpg',
      'oddnames/dots/a\nb.jpg',
      'oddnames/dots/a\rb.jpg',
      'oddnames/dots/a\u2028b.jpg',
      'oddnames/dots/a\u2029b.jpg',
    ];
    const content = await noiseImage(4242);
    for (const name of [...odd, 'oddnames/dots/fine.jpg']) await container.getBlockBlobClient(name).uploadData(content);
    await host.scanBlobsNow();
    const summary = await waitFor('every odd blob rejected in its dataset', async () => {
      const { status, body } = await getJson(`${host.url}/api/datasets/oddnames`);
      const images = body['images'] as Record<string, number> | undefined;
      return status === 200 && images && images['rejected'] === odd.length && images['accepted'] === 1
        ? body
        : undefined;
    });
    expect(summary['images']).toEqual({ accepted: 1, duplicate: 0, nearDuplicate: 0, rejected: odd.length });
    const rejected = await getJson(`${host.url}/api/datasets/oddnames/images?status=rejected`);
    for (const image of rejected.body['images'] as { reasonCode: string }[])
      expect(image.reasonCode).toBe('invalid-name');
    // Read by name: a listing would give the \r name back with its "&#xD;" undecoded.
    const quarantine = storage.clients.blobs.getContainerClient('quarantine');
    for (const name of odd) {
      const properties = await quarantine.getBlobClient(name).getProperties();
      expect(properties.metadata?.['rejection_code'], name).toBe('invalid-name');
    }
    let quarantinedCount = 0;
    for await (const _blob of quarantine.listBlobsFlat({ prefix: 'oddnames/' })) quarantinedCount++;
    expect(quarantinedCount).toBe(odd.length);
  });
});

describe('queue and blob trigger retries', () => {
  it('moves a queue message that keeps failing to <queue>-poison after maxDequeueCount tries', async () => {
    const queue = storage.clients.queues.getQueueClient('probe-jobs');
    await queue.sendMessage(Buffer.from(JSON.stringify({ fail: true, id: 'bad' })).toString('base64'));
    await queue.sendMessage(Buffer.from(JSON.stringify({ fail: false, id: 'good' })).toString('base64'));
    const poison = storage.clients.queues.getQueueClient('probe-jobs-poison');
    const peeked = await waitFor('a poison message', async () => {
      if (!(await poison.exists())) return undefined;
      const result = await poison.peekMessages();
      return result.peekedMessageItems[0];
    });
    expect(JSON.parse(Buffer.from(peeked.messageText, 'base64').toString())).toEqual({ fail: true, id: 'bad' });
    const attempts = calls.queue.filter((c) => (c as { message: { id: string } }).message.id === 'bad');
    expect(attempts.map((c) => (c as { dequeueCount: number }).dequeueCount)).toEqual([1, 2, 3]);
    expect(calls.queue.filter((c) => (c as { message: { id: string } }).message.id === 'good')).toHaveLength(1);
  });

  it('sends a blob whose function keeps failing to webjobs-blobtrigger-poison, and does not retry it forever', async () => {
    const container = storage.clients.blobs.getContainerClient('probe-fail');
    await container.createIfNotExists();
    await container.getBlockBlobClient('doomed.txt').upload('x', 1);
    const poison = storage.clients.queues.getQueueClient('webjobs-blobtrigger-poison');
    const message = await waitFor(
      'a blob poison message',
      async () => (await poison.peekMessages()).peekedMessageItems[0],
    );
    expect(JSON.parse(message.messageText)).toMatchObject({
      FunctionId: 'probeBlob',
      ContainerName: 'probe-fail',
      BlobName: 'doomed.txt',
    });
    expect(calls.blobAttempts).toBe(3);
    await host.scanBlobsNow();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(calls.blobAttempts).toBe(3);
  });

  it('runs a runOnStartup timer', () => {
    expect(calls.timer.length).toBeGreaterThanOrEqual(1);
    expect(calls.timer[0]).toMatchObject({ isPastDue: false });
  });

  it('runs a timer missed while the host was down as past due, then on its schedule', async () => {
    await waitFor(
      'three runs of the every-second timer',
      async () => (calls.everySecond.length >= 3 ? true : undefined),
      10_000,
    );
    expect(calls.everySecond[0]).toMatchObject({ isPastDue: true, scheduleStatus: { next: expect.any(String) } });
    // Later runs come on schedule (a run right after the restart test may be past due again, rightly).
    expect(calls.everySecond.slice(1).some((timer) => !timer.isPastDue)).toBe(true);
  });
});

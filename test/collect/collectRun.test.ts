// Collection end to end on the local host: a scheduled run against a fake Bing v7 service fills the catalog
// with deduplicated, split images carrying provenance; a second run fetches nothing twice; the offline
// provider runs the same path with no network; and the SSRF guard refuses loopback and metadata targets.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunReport } from '../../src/collect/runs';
import type { RawSettings } from '../../src/config';
import type { RunningHost } from '../../src/host/localHost';
import { createServices, type Services } from '../../src/services';
import { callApi, projectRoot, startAppHost, testSettings } from '../support/appHost';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { type FakeBing, type FakeImage, startFakeBing } from '../support/fakeBing';
import { noiseImage } from '../support/images';
import { waitFor } from '../support/waitFor';

let storage: TestStorage;
let bing: FakeBing;
let host: RunningHost;
let services: Services;
let settings: RawSettings;
const images = new Map<string, FakeImage[]>();

function api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  return callApi<T>(host, method, route, body);
}

async function finishedRun(dataset: string, runId: string): Promise<RunReport> {
  return waitFor(
    `run ${runId}`,
    async () => {
      const { body } = await api<RunReport>('GET', `datasets/${dataset}/collect/${runId}`);
      return body.status !== 'running' ? body : undefined;
    },
    60_000,
  );
}

async function catalogTotal(dataset: string): Promise<number> {
  const stats = await services.catalog.getStats(dataset);
  return stats ? Object.values(stats.images).reduce((a, b) => a + b, 0) : 0;
}

beforeAll(async () => {
  storage = await startTestStorage();
  // Each query finds 6 distinct photos; "striped shirt" also finds a byte copy of one "dotted shirt"
  // photo, an HTML error page served as a JPEG, and an image over the download size limit.
  for (const [q, query] of ['striped shirt', 'dotted shirt'].entries()) {
    const list: FakeImage[] = [];
    for (let i = 0; i < 6; i++)
      list.push({ id: `q${q}-${i}`, bytes: await noiseImage(40_000 + q * 100 + i), width: 160, height: 120 });
    images.set(query, list);
  }
  images.get('striped shirt')!.push(
    { id: 'copy', bytes: images.get('dotted shirt')![0]!.bytes, width: 160, height: 120 },
    {
      id: 'error-page',
      bytes: Buffer.from('<!DOCTYPE html><html><body>Forbidden</body></html>'),
      width: 160,
      height: 120,
      encodingFormat: 'jpeg',
    },
    // A real JPEG with 700 kB of trailing bytes: over the limit, whatever the picture.
    { id: 'huge', bytes: Buffer.concat([await noiseImage(49_999), randomBytes(700_000)]), width: 160, height: 120 },
    // A lone UTF-16 surrogate in a result field (JSON allows the escape): once it failed the whole query.
    {
      id: 'bad-text',
      bytes: await noiseImage(49_998),
      width: 160,
      height: 120,
      contentUrl: `http://127.0.0.1:9/bad-\uD800.jpg`,
    },
  );
  bing = await startFakeBing({ catalog: (query) => images.get(query) ?? [] });

  settings = testSettings(storage.azurite.connectionString, {
    BING_SEARCH_ENDPOINT: bing.endpoint,
    BING_SEARCH_KEY: bing.key,
    COLLECT_ALLOW_PRIVATE_ADDRESSES: 'true',
    COLLECT_DOWNLOAD_MAX_BYTES: '600000',
  });
  services = await createServices(settings);
  await services.collector.savePlan('shirts', {
    dimensions: { item: ['shirt'], attribute: ['striped', 'dotted'] },
    template: '{attribute} {item}',
    labelFrom: 'attribute',
    imagesPerQuery: 20,
    filters: { imageType: 'Photo', safeSearch: 'Strict', market: 'en-US' },
  });
  // The timer's next occurrence passed while the host was down: it fires as past due right at start.
  const hosts = storage.clients.blobs.getContainerClient('azure-webjobs-hosts');
  await hosts.createIfNotExists();
  const hourAgo = new Date(Date.now() - 3600_000).toISOString();
  const status = JSON.stringify({ Last: hourAgo, Next: hourAgo, LastUpdated: hourAgo });
  await hosts.getBlockBlobClient('timers/collect-test/collectScheduled/status').upload(status, status.length);

  host = await startAppHost({ hostId: 'collect-test', settings, blobScanIntervalInMs: 200 });
}, 120_000);

afterAll(async () => {
  await host?.stop();
  await bing?.close();
  await storage?.azurite.close();
});

describe('a scheduled run against a Bing v7 service', () => {
  it('fills the catalog with deduplicated, split images carrying their provenance', async () => {
    const runs = await waitFor(
      'the scheduled run',
      async () => {
        const { body } = await api<{ runs: { runId: string; trigger: string }[] }>('GET', 'datasets/shirts/collect');
        return body.runs.length > 0 ? body.runs : undefined;
      },
      60_000,
    );
    expect(runs[0]).toMatchObject({ trigger: 'schedule', provider: 'bing' });
    const report = await finishedRun('shirts', runs[0]!.runId);
    expect(report).toMatchObject({
      queries: 2,
      queriesDone: 2,
      queriesFailed: 0,
      imagesFound: 16,
      imagesDownloaded: 13,
    });
    expect(report.skipped).toEqual({ 'not-an-image': 1, 'too-large': 1, 'malformed-result': 1 });
    const striped = report.queryReports.find((q) => q.query === 'striped shirt')!;
    expect(striped.skippedDetails.map((d) => d.reason).sort()).toEqual([
      'malformed-result',
      'not-an-image',
      'too-large',
    ]);
    expect(striped.skippedDetails.find((d) => d.reason === 'malformed-result')).toEqual({
      url: 'http://127.0.0.1:9/bad-\uFFFD.jpg',
      reason: 'malformed-result',
      message: "the result's contentUrl is not valid Unicode (a lone UTF-16 surrogate)",
    });
    // The filters reached the service through the SDK.
    expect(bing.searchRequests()[0]!.query).toMatchObject({
      q: 'striped shirt',
      imageType: 'Photo',
      safeSearch: 'Strict',
      mkt: 'en-US',
    });

    await waitFor(
      '13 images in the catalog',
      async () => ((await catalogTotal('shirts')) === 13 ? true : undefined),
      60_000,
    );
    const stats = (await services.catalog.getStats('shirts'))!;
    expect(stats.images).toEqual({ accepted: 12, duplicate: 1, nearDuplicate: 0, rejected: 0 });
    // The copy found by both queries keeps the label of whichever download was ingested first.
    const [duplicate] = (await services.catalog.listImages('shirts', { status: 'duplicate', pageSize: 10 })).images;
    expect(duplicate).toBeDefined();
    expect(stats.labels).toEqual(
      duplicate!.label === 'striped'
        ? { striped: { train: 5, test: 1 }, dotted: { train: 5, test: 1 } }
        : { striped: { train: 6, test: 1 }, dotted: { train: 4, test: 1 } },
    );
    const listed = await services.catalog.listImages('shirts', { status: 'accepted', label: 'striped', pageSize: 100 });
    expect(listed.images[0]!.provenance).toMatchObject({
      source: 'search',
      provider: 'bing',
      query: encodeURI('striped shirt'),
      run_id: runs[0]!.runId,
      content_url: expect.stringContaining(bing.endpoint),
      image_id: expect.any(String),
    });
  });

  it('does not fetch a URL it already downloaded into the dataset', async () => {
    const downloadsBefore = bing.requests.filter((r) => r.path.startsWith('/images/')).length;
    const started = await api<{ runId: string; queries: number }>('POST', 'datasets/shirts/collect');
    expect(started.status).toBe(202);
    const report = await finishedRun('shirts', started.body.runId);
    expect(report.imagesDownloaded).toBe(0);
    expect(report.skipped['already-downloaded']).toBe(13);
    const downloadsAfter = bing.requests.filter((r) => r.path.startsWith('/images/')).length;
    expect(downloadsAfter - downloadsBefore).toBe(2); // only the two that were refused before are tried again
  });

  it('reports a plan-less dataset and a bad plan with 4xx and a message', async () => {
    const missing = await api<{ message: string }>('POST', 'datasets/no-plan-here/collect');
    expect(missing.status).toBe(404);
    expect(missing.body.message).toMatch(/no collection plan/);
    const bad = await api<{ message: string }>('PUT', 'datasets/shirts/collection-plan', {
      dimensions: { item: ['x'] },
      template: '{item}',
      labelFrom: 'colour',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/labelFrom: "colour" is not a dimension/);
    // 6,000 one-term dimensions once took 23 s of the event loop; now a bounded body, refused at once.
    const dimensions = Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [`d${i}`, ['x']]));
    const huge = await api<{ error: string; message: string }>('PUT', 'datasets/shirts/collection-plan', {
      dimensions,
      template: Object.keys(dimensions)
        .map((d) => `{${d}}`)
        .join(' '),
      labelFrom: 'd0',
    });
    expect(huge.status).toBe(413);
    expect(huge.body.message).toMatch(/^a collection plan has at most 65536 bytes of JSON; this one has \d+$/);
    expect((await api<unknown>('GET', 'health')).status).toBe(200);
  });
});

describe('a run whose results carry 100 KB URLs', () => {
  it('ends, with the URLs cut short in its report, instead of staying running', async () => {
    // Each such query's report once exceeded Table storage's 1 MiB entity limit on every try, then went to poison.
    for (const attribute of ['striped', 'dotted']) {
      images.set(
        `${attribute} scarf`,
        Array.from({ length: 20 }, (_, i) => ({
          id: `${attribute}-long${i}`,
          bytes: Buffer.from([0xff, 0xd8, 0xff, i]),
          width: 400,
          height: 300,
          contentUrl: `${bing.endpoint}/images/${attribute}-long${i}.jpg?pad=${'x'.repeat(100_000)}`,
        })),
      );
    }
    await services.collector.savePlan('long-urls', {
      dimensions: { item: ['scarf'], attribute: ['striped', 'dotted'] },
      template: '{attribute} {item}',
      labelFrom: 'attribute',
      imagesPerQuery: 20,
    });
    const started = await api<{ runId: string }>('POST', 'datasets/long-urls/collect');
    const report = await finishedRun('long-urls', started.body.runId);
    expect(report).toMatchObject({ status: 'done', queriesDone: 2, imagesFound: 40, skipped: { 'bad-url': 40 } });
    for (const query of report.queryReports) {
      expect(query.skippedDetails.length + (query.skippedDetailsOmitted ?? 0)).toBe(20);
      for (const detail of query.skippedDetails) expect(detail.url.length).toBeLessThanOrEqual(2_000);
    }
  }, 60_000);
});

describe('plans that would expand to megabytes', () => {
  // 51 KB of JSON that once made every PUT and GET answer 32.7 MB: {a} 165 times, 500 terms of 100 characters by 4.
  const plan = {
    dimensions: {
      a: Array.from({ length: 500 }, (_, i) => `${'a'.repeat(97)}${String(i).padStart(3, '0')}`),
      b: ['striped', 'dotted', 'leopard', 'plain'],
    },
    template: `${'{a}'.repeat(165)}{b}`,
    labelFrom: 'b',
  };

  it('refuses one on PUT with a 400 naming the limit', async () => {
    const response = await fetch(`${host.url}/api/datasets/expanding/collection-plan`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(plan),
    });
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(text.length).toBeLessThan(2_000);
    expect((JSON.parse(text) as { message: string }).message).toMatch(
      /template: the longest query would have \d+ characters, more than 500 \(PLAN_LIMITS\.queryChars\)/,
    );
  });

  it('answers a GET of one stored before the limit with a 400, not its expansion', async () => {
    const body = JSON.stringify(plan);
    await services.storage.blobs
      .getContainerClient('config')
      .getBlockBlobClient('expanding/collection.json')
      .upload(body, body.length);
    const before = process.memoryUsage().rss;
    const answers = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const response = await fetch(`${host.url}/api/datasets/expanding/collection-plan`);
        return { status: response.status, text: await response.text() };
      }),
    );
    for (const { status, text } of answers) {
      expect(status).toBe(400);
      expect(text.length).toBeLessThan(2_000);
      expect(text).toMatch(/config\/expanding\/collection\.json is invalid: template: the longest query/);
    }
    // Ten parallel GETs once added 380 MB; the host runs in this process.
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });
});

describe('the offline provider', () => {
  it('runs the whole path with no network, started from the CLI', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'icf-plan-'));
    const planFile = path.join(dir, 'plan.json');
    await writeFile(
      planFile,
      JSON.stringify({
        dimensions: { item: ['t-shirt', 'hoodie'], attribute: ['striped', 'dotted', 'leopard'] },
        template: '{attribute} {item}',
        labelFrom: 'attribute',
        imagesPerQuery: 4,
        provider: 'offline',
      }),
    );
    const { stdout } = await promisify(execFile)(process.execPath, [
      path.join(projectRoot, 'bin', 'icf.js'),
      'collect',
      'run',
      '--dataset',
      'demo-offline',
      '--plan',
      planFile,
      '--url',
      host.url,
    ]);
    expect(stdout).toMatch(/run .*: 6 queries/);
    expect(stdout).toMatch(/done: 24 found, 24 downloaded/);
    await waitFor(
      '24 offline images in the catalog',
      async () => ((await catalogTotal('demo-offline')) === 24 ? true : undefined),
      60_000,
    );
    const stats = (await services.catalog.getStats('demo-offline'))!;
    expect(Object.keys(stats.labels).sort()).toEqual(['dotted', 'leopard', 'striped']);
    expect(stats.images.rejected).toBe(0);
    for (const counts of Object.values(stats.labels)) expect(counts.test).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

describe('the SSRF guard', () => {
  it('refuses results that point at loopback or the metadata address, and reports them', async () => {
    const guarded = await createServices({
      ...settings,
      COLLECT_ALLOW_PRIVATE_ADDRESSES: 'false',
      COLLECT_DOWNLOAD_TIMEOUT_MS: '3000',
    });
    images.set('leopard vest', [
      {
        id: 'metadata',
        bytes: await noiseImage(1),
        width: 160,
        height: 120,
        contentUrl: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      },
      { id: 'loopback', bytes: await noiseImage(2), width: 160, height: 120 },
    ]);
    const report = await guarded.collector.runJob(
      {
        dataset: 'guarded',
        runId: 'r1',
        index: 0,
        query: 'leopard vest',
        label: 'leopard',
        provider: 'bing',
        count: 10,
        filters: {},
      },
      { isLastAttempt: true },
    );
    expect(report).toMatchObject({ status: 'done', found: 2, downloaded: 0, skipped: { 'blocked-address': 2 } });
    expect(report.skippedDetails.map((d) => d.url).sort()).toEqual([
      expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/images\/loopback/),
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    ]);
    expect(bing.requests.some((r) => r.path.includes('loopback'))).toBe(false);
  });
});

describe('failed queries', () => {
  it('records a bad key as a failed query at once, with a message naming the setting', async () => {
    const wrongKey = await createServices({ ...settings, BING_SEARCH_KEY: 'not-the-key' });
    const report = await wrongKey.collector.runJob(
      {
        dataset: 'shirts',
        runId: 'bad-key',
        index: 0,
        query: 'striped shirt',
        label: 'striped',
        provider: 'bing',
        count: 5,
        filters: {},
      },
      { isLastAttempt: false },
    );
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(/BING_SEARCH_KEY/);
  });

  it('lets the queue retry a transient failure, and records it on the last try', async () => {
    const job = {
      dataset: 'shirts',
      runId: 'flaky',
      index: 0,
      query: 'striped shirt',
      label: 'striped',
      provider: 'bing',
      count: 5,
      filters: {},
    };
    // The provider makes 5 tries of its own (DEFAULT_RETRY_OPTIONS): fail them all, twice.
    bing.failNext(5, { kind: 'server-error', status: 503 });
    await expect(services.collector.runJob(job, { isLastAttempt: false })).rejects.toThrow(/5 tries|503/);
    bing.failNext(5, { kind: 'server-error', status: 503 });
    const report = await services.collector.runJob(job, { isLastAttempt: true });
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(/503|tries/);
  }, 120_000);
});

// What keeps a collection run from staying `running` forever: query reports bounded below Table storage's limits
// (results with 100 KB URLs once made a row over 1 MiB, EntityTooLarge on every try, then poison), a per-query
// deadline (a hanging search endpoint), a last try that records its failure whatever happens, and search answers
// read with a byte cap (an 80 MB answer was once read whole). Fake search services on loopback, real Azurite.
import type * as http from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Collector, type SearchJob } from '../../src/collect/collector';
import { downloadImage } from '../../src/collect/download';
import { BingImageSearchProvider } from '../../src/collect/providers/bing';
import { OpenverseProvider } from '../../src/collect/providers/openverse';
import { type QueryReport, RunStore } from '../../src/collect/runs';
import type { ImageSearchProvider } from '../../src/collect/types';
import { ensureError } from '../../src/errors';
import { createServices, type Services } from '../../src/services';
import { CONFIG_CONTAINER, INCOMING_CONTAINER, RUNS_TABLE, SEARCH_JOBS_QUEUE } from '../../src/storage/names';
import { testSettings } from '../support/appHost';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { type FakeBing, type FakeImage, startFakeBing } from '../support/fakeBing';
import { type RecordingServer, startRecordingServer } from '../support/fakeHttp';
import { fakeJpeg, recordingRetry } from '../support/searchProviders';

let storage: TestStorage;
let bing: FakeBing;
let services: Services;
let huge: RecordingServer;
/** Bytes the huge-answer server managed to write before the client hung up, per request. */
const hugeBytesWritten: number[] = [];

const HUGE_ANSWER_BYTES = 80 * 1024 * 1024;

function collector(
  options: { queryTimeoutInMs?: number; runs?: RunStore; provider?: ImageSearchProvider; bing?: FakeBing } = {},
): Collector {
  const { blobs, queues } = services.storage;
  const fake = options.bing ?? bing;
  const bingProvider = new BingImageSearchProvider({ endpoint: fake.endpoint, key: fake.key });
  return new Collector({
    config: blobs.getContainerClient(CONFIG_CONTAINER),
    incoming: blobs.getContainerClient(INCOMING_CONTAINER),
    jobs: queues.getQueueClient(SEARCH_JOBS_QUEUE),
    runs: options.runs ?? new RunStore(services.storage.table(RUNS_TABLE)),
    settings: services.settings.collect,
    provider: () => options.provider ?? bingProvider,
    download: downloadImage,
    ...(options.queryTimeoutInMs !== undefined ? { queryTimeoutInMs: options.queryTimeoutInMs } : {}),
  });
}

/** A run of `queries` queries, recorded, whose jobs the test hands to runJob itself. */
async function newRun(dataset: string, queries: number): Promise<{ runId: string; jobs: SearchJob[] }> {
  const runs = new RunStore(services.storage.table(RUNS_TABLE));
  const runId = runs.newRunId();
  await runs.createRun({
    dataset,
    runId,
    trigger: 'http',
    provider: 'bing',
    queries,
    imagesPerQuery: 20,
    startedAt: new Date().toISOString(),
  });
  const jobs = Array.from({ length: queries }, (_, index) => ({
    dataset,
    runId,
    index,
    query: `query ${index}`,
    label: 'striped',
    provider: 'bing' as const,
    count: 20,
    filters: {},
  }));
  return { runId, jobs };
}

/** 80 MB of one JSON answer, written in 1 MiB chunks as the client takes them (never held whole). */
function sendHugeAnswer(res: http.ServerResponse): void {
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  const head = Buffer.from('{"result_count":1,"page_count":1,"results":[],"_type":"Images","value":[],"pad":"');
  res.writeHead(200, { 'Content-Type': 'application/json' });
  let written = head.length;
  const index = hugeBytesWritten.push(written) - 1;
  res.write(head);
  const more = (): void => {
    while (written < HUGE_ANSWER_BYTES) {
      written += chunk.length;
      hugeBytesWritten[index] = written;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    res.end('"}');
  };
  res.on('close', () => (hugeBytesWritten[index] = written));
  more();
}

beforeAll(async () => {
  storage = await startTestStorage();
  bing = await startFakeBing();
  huge = await startRecordingServer((_req, res) => sendHugeAnswer(res));
  services = await createServices(
    testSettings(storage.azurite.connectionString, {
      BING_SEARCH_ENDPOINT: bing.endpoint,
      BING_SEARCH_KEY: bing.key,
      COLLECT_ALLOW_PRIVATE_ADDRESSES: 'true',
      COLLECT_DOWNLOAD_TIMEOUT_MS: '5000',
    }),
  );
}, 60_000);

afterAll(async () => {
  await huge?.close();
  await bing?.close();
  await storage?.azurite.close();
});

describe('query reports stay within Table storage limits', () => {
  it('records a query whose results carry 100 KB URLs, truncated, with a count of what was left out', async () => {
    // 20 results whose URLs are 100 KB each: every download is refused (no server would take such a request line),
    // and each refusal once put its whole URL into the query's row.
    const padding = 'x'.repeat(100_000);
    const images: FakeImage[] = Array.from({ length: 20 }, (_, i) => ({
      id: `long${i}`,
      bytes: fakeJpeg(`long${i}`),
      width: 400,
      height: 300,
      contentUrl: `${bing.endpoint}/images/long${i}.jpg?pad=${padding}`,
    }));
    bing.setCatalog(() => images);
    const { runId, jobs } = await newRun('long-urls', 1);

    const report = await collector().runJob(jobs[0], { isLastAttempt: false });

    expect(report).toMatchObject({ status: 'done', found: 20, downloaded: 0 });
    const stored = await services.collector.getRun('long-urls', runId);
    expect(stored.status).toBe('done');
    const [query] = stored.queryReports;
    expect(Object.values(query!.skipped).reduce((a, b) => a + b, 0)).toBe(20);
    // Some details are kept, each URL cut short and saying by how much; the rest are counted.
    expect(query!.skippedDetails.length).toBeGreaterThan(0);
    expect(query!.skippedDetails.length + (query!.skippedDetailsOmitted ?? 0)).toBe(20);
    for (const detail of query!.skippedDetails) {
      expect(detail.url.length).toBeLessThan(2_100);
      expect(detail.url).toMatch(/… \(\d+ more characters\)$/);
    }
    expect(JSON.stringify(query).length).toBeLessThan(32 * 1024);
  }, 60_000);
});

describe('a per-query deadline', () => {
  it('ends a query whose search endpoint hangs as failed, naming the deadline, and the run with it', async () => {
    const hanging = await startFakeBing();
    hanging.failNext(50, { kind: 'hang' });
    const { runId, jobs } = await newRun('hanging', 1);
    const started = Date.now();

    const report = await collector({ queryTimeoutInMs: 1_500, bing: hanging })
      .runJob(jobs[0], { isLastAttempt: false })
      .finally(() => hanging.close());

    expect(Date.now() - started).toBeLessThan(10_000);
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(/did not finish within 1500 ms/);
    const run = await services.collector.getRun('hanging', runId);
    expect(run).toMatchObject({ status: 'failed', queriesDone: 1, queriesFailed: 1 });
    expect(run.error).toMatch(/1 of 1 queries failed.*did not finish within 1500 ms/);
  }, 30_000);
});

describe('the last try of a query', () => {
  it('records a failure even when the full report cannot be stored', async () => {
    const runs = new RunStore(services.storage.table(RUNS_TABLE));
    // A store that refuses the query's full report, as Table storage refused an oversized row.
    const refusing = Object.assign(Object.create(runs) as RunStore, {
      recordQuery: (dataset: string, runId: string, report: QueryReport) =>
        report.status === 'done'
          ? Promise.reject(Object.assign(new Error('EntityTooLarge'), { statusCode: 413 }))
          : runs.recordQuery(dataset, runId, report),
    });
    bing.setCatalog(() => [{ id: 'one', bytes: fakeJpeg('one'), width: 400, height: 300 }]);
    const { runId, jobs } = await newRun('unrecordable', 2);

    // Not the last try: the failure goes back to the queue, which tries again.
    await expect(collector({ runs: refusing }).runJob(jobs[0], { isLastAttempt: false })).rejects.toThrow(
      /EntityTooLarge/,
    );
    const last = await collector({ runs: refusing }).runJob(jobs[0], { isLastAttempt: true });
    expect(last.status).toBe('failed');
    expect(last.error).toMatch(/could not be stored: EntityTooLarge/);
    await collector().runJob(jobs[1], { isLastAttempt: false });
    const run = await services.collector.getRun('unrecordable', runId);
    expect(run).toMatchObject({ status: 'partial', queriesDone: 2, queriesFailed: 1 });
    expect(run.error).toMatch(/1 of 2 queries failed/);
  }, 30_000);

  it('is recorded as failed while it runs, so a host that dies on it does not leave the run running', async () => {
    let searching!: () => void;
    const searchStarted = new Promise<void>((resolve) => (searching = resolve));
    const stuck: ImageSearchProvider = {
      name: 'bing',
      search: ({ signal }) => {
        searching();
        return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(ensureError(signal.reason))));
      },
    };
    const { runId, jobs } = await newRun('dying', 1);
    const running = collector({ provider: stuck, queryTimeoutInMs: 3_000 }).runJob(jobs[0], { isLastAttempt: true });
    await searchStarted;

    // The host would die here: the message comes back past maxDequeueCount and goes to poison unseen.
    const run = await services.collector.getRun('dying', runId);
    expect(run.status).toBe('failed');
    expect(run.queryReports[0]!.error).toMatch(/last try .* did not finish/);
    // It did not die: the deadline ends the try, and its own outcome replaces the placeholder.
    expect((await running).error).toMatch(/did not finish within 3000 ms: 0 of 0 results downloaded/);
    expect((await services.collector.getRun('dying', runId)).queryReports[0]!.error).toMatch(/within 3000 ms/);
  }, 30_000);
});

describe('search answers are read with a byte cap', () => {
  it('refuses an 80 MB Openverse answer after reading a few MB of it', async () => {
    const before = process.memoryUsage().rss;
    const provider = new OpenverseProvider({ endpoint: huge.origin, retry: recordingRetry().retry });

    await expect(provider.search({ query: 'shirts', count: 5, filters: {} })).rejects.toThrow(
      /answered more than 8388608 bytes/,
    );

    expect(process.memoryUsage().rss - before).toBeLessThan(60 * 1024 * 1024);
    expect(hugeBytesWritten.at(-1)).toBeLessThan(HUGE_ANSWER_BYTES);
  }, 60_000);

  it('refuses an 80 MB Bing answer through the SDK after reading a few MB of it', async () => {
    const before = process.memoryUsage().rss;
    const provider = new BingImageSearchProvider({ endpoint: huge.origin, key: 'k', retry: recordingRetry().retry });

    await expect(provider.search({ query: 'shirts', count: 5, filters: {} })).rejects.toThrow(
      /answered more than 8388608 bytes/,
    );

    expect(process.memoryUsage().rss - before).toBeLessThan(60 * 1024 * 1024);
    expect(hugeBytesWritten.at(-1)).toBeLessThan(HUGE_ANSWER_BYTES);
  }, 60_000);
});

// Collection runs: a run turns a dataset's plan into one search job per query on the search-jobs queue;
// a worker runs one job: search, download each result safely, and drop it into incoming/{dataset}/{label}/
// with its provenance, where ingest takes over.
import { createHash } from 'node:crypto';

import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';

import type { CollectSettings } from '../config';
import { assertDatasetName } from '../dataset/names';
import {
  ConfigurationError,
  ensureError,
  InvalidArgumentError,
  messageOf,
  NotFoundError,
  ProgrammingError,
} from '../errors';
import { encodeQueueMessage } from '../platform/queueMessages';
import { COLLECTION_PLAN_FILE, collectionPlanBlobName, CONFIG_CONTAINER, incomingBlobName } from '../storage/names';
import { isStatus } from '../storage/tables';
import { type CollectionPlan, parsePlan, synthesizeQueries } from './plan';
import type { QueryReport, RunRecord, RunReport, RunStore, RunTrigger, SkippedResult } from './runs';
import {
  type DownloadedImage,
  type DownloadOptions,
  DownloadRefusedError,
  type ImageResult,
  type ImageSearchProvider,
  type SearchFilters,
  SearchProviderError,
} from './types';

/** One query of one run: the message on the search-jobs queue. */
export interface SearchJob {
  dataset: string;
  runId: string;
  index: number;
  query: string;
  label: string;
  provider: CollectionPlan['provider'];
  count: number;
  filters: SearchFilters;
}

export interface CollectorLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface CollectorOptions {
  config: ContainerClient;
  incoming: ContainerClient;
  jobs: QueueClient;
  runs: RunStore;
  settings: CollectSettings;
  /** The provider a plan names; throws a ConfigurationError when its settings are missing. */
  provider(name: CollectionPlan['provider']): ImageSearchProvider;
  download(url: string, options: DownloadOptions): Promise<DownloadedImage>;
  logger?: CollectorLogger;
  /**
   * How long one query (its search and downloads) may take before it is recorded as failed; default
   * DEFAULT_QUERY_TIMEOUT_MS. Below host.json's functionTimeout, so that a try always ends with its record.
   */
  queryTimeoutInMs?: number;
}

/** Five minutes: half of host.json's functionTimeout (10 minutes), so a query's try ends, and records, in time. */
export const DEFAULT_QUERY_TIMEOUT_MS = 5 * 60_000;

/** Longer result URLs are refused without a request: no server takes them, and they bloat every record. */
export const MAX_RESULT_URL_CHARS = 8_192;

/** Azure allows 8 KiB of metadata per blob, names and values together; provenance keeps below it. */
const MAX_METADATA_BYTES = 7 * 1024;

/** The query's deadline passed; recorded as the query's failure, never retried (it would only wait again). */
class QueryTimeoutError extends Error {
  override name = 'QueryTimeoutError';
}

export class Collector {
  readonly #options: CollectorOptions;
  readonly #logger: CollectorLogger;

  constructor(options: CollectorOptions) {
    this.#options = options;
    this.#logger = options.logger ?? { info: () => undefined, warn: () => undefined };
  }

  async ensureStorage(): Promise<void> {
    await Promise.all([
      this.#options.config.createIfNotExists(),
      this.#options.incoming.createIfNotExists(),
      this.#options.jobs.createIfNotExists(),
      this.#options.runs.ensureTable(),
    ]);
  }

  /** Validates and stores a dataset's plan; returns it as parsed. */
  async savePlan(dataset: string, json: unknown): Promise<CollectionPlan> {
    assertDatasetName(dataset);
    const plan = parsePlan(json, `collection plan for "${dataset}"`);
    const body = JSON.stringify(json, null, 2);
    await this.#options.config
      .getBlockBlobClient(collectionPlanBlobName(dataset))
      .upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
    return plan;
  }

  async loadPlan(dataset: string): Promise<CollectionPlan> {
    assertDatasetName(dataset);
    const blobName = collectionPlanBlobName(dataset);
    let text: string;
    try {
      text = (await this.#options.config.getBlockBlobClient(blobName).downloadToBuffer()).toString('utf8');
    } catch (error) {
      if (isStatus(error, 404))
        throw new NotFoundError(`dataset "${dataset}" has no collection plan (${CONFIG_CONTAINER}/${blobName})`);
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new InvalidArgumentError(`${CONFIG_CONTAINER}/${blobName} is not valid JSON: ${messageOf(error)}`);
    }
    return parsePlan(json, `${CONFIG_CONTAINER}/${blobName}`);
  }

  /** Datasets that have a plan blob. */
  async listPlannedDatasets(): Promise<string[]> {
    const datasets: string[] = [];
    for await (const blob of this.#options.config.listBlobsFlat()) {
      const [dataset, file, ...rest] = blob.name.split('/');
      if (dataset && file === COLLECTION_PLAN_FILE && rest.length === 0) datasets.push(dataset);
    }
    return datasets.sort();
  }

  /** Starts a run of the dataset's plan: one job per query on the search-jobs queue. */
  async startRun(dataset: string, trigger: RunTrigger): Promise<{ runId: string; queries: number }> {
    const plan = await this.loadPlan(dataset);
    // Resolving the provider now reports missing settings to the caller instead of in every job.
    this.#options.provider(plan.provider);
    const queries = synthesizeQueries(plan);
    const runs = this.#options.runs;
    const runId = runs.newRunId();
    await runs.createRun({
      dataset,
      runId,
      trigger,
      provider: plan.provider,
      queries: queries.length,
      imagesPerQuery: plan.imagesPerQuery,
      startedAt: new Date().toISOString(),
    });
    for (const [index, planned] of queries.entries()) {
      const job: SearchJob = {
        dataset,
        runId,
        index,
        query: planned.query,
        label: planned.label,
        provider: plan.provider,
        count: plan.imagesPerQuery,
        filters: plan.filters,
      };
      await this.#options.jobs.sendMessage(encodeQueueMessage(job));
    }
    this.#logger.info(
      `collect: run ${runId} of "${dataset}" started with ${queries.length} queries (${plan.provider})`,
    );
    return { runId, queries: queries.length };
  }

  listRuns(dataset: string): Promise<RunRecord[]> {
    assertDatasetName(dataset);
    return this.#options.runs.listRuns(dataset);
  }

  getRun(dataset: string, runId: string): Promise<RunReport> {
    assertDatasetName(dataset);
    return this.#options.runs.getReport(dataset, runId);
  }

  /**
   * Runs one search job. Failures that a retry cannot fix (a bad key or endpoint, the query's deadline), and any
   * failure on the last allowed try, are recorded in the run's report; other failures throw so that the queue
   * retries. The last try records the query as failed before it starts, so that a host that dies during it (the
   * message then goes to poison unseen) or a report that cannot be stored never leaves the run running.
   */
  async runJob(input: unknown, options: { isLastAttempt: boolean }): Promise<QueryReport> {
    const job = parseJob(input);
    const runs = this.#options.runs;
    const timeoutInMs = this.#options.queryTimeoutInMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    const report: QueryReport = {
      index: job.index,
      query: job.query,
      label: job.label,
      status: 'done',
      found: 0,
      downloaded: 0,
      skipped: {},
      skippedDetails: [],
      finishedAt: '',
    };
    if (options.isLastAttempt) {
      await runs.recordQuery(job.dataset, job.runId, {
        ...report,
        status: 'failed',
        error: `the last try of this query did not finish (its host stopped, or it ran past the function timeout); started ${new Date().toISOString()}`,
        finishedAt: new Date().toISOString(),
      });
    }
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new QueryTimeoutError(`the query did not finish within ${timeoutInMs} ms`)),
      timeoutInMs,
    );
    try {
      // The race ends the try at the deadline even where a provider or download does not heed the signal.
      await Promise.race([
        this.#search(job, report, deadline.signal),
        new Promise<never>((_, reject) => {
          deadline.signal.addEventListener('abort', () => reject(ensureError(deadline.signal.reason)), { once: true });
        }),
      ]);
    } catch (error) {
      // A bad key, endpoint or setting stays bad however often the queue retries; a deadline would only pass again.
      const permanent =
        error instanceof ConfigurationError ||
        error instanceof QueryTimeoutError ||
        (error instanceof SearchProviderError &&
          (error.permanent || (error.statusCode !== undefined && error.statusCode < 500 && error.statusCode !== 429)));
      if (!permanent && !options.isLastAttempt) throw error;
      const message = messageOf(error);
      Object.assign(report, {
        status: 'failed',
        error:
          error instanceof QueryTimeoutError
            ? `${message}: ${report.downloaded} of ${report.found} results downloaded by then`
            : message,
      });
    } finally {
      clearTimeout(timer);
      deadline.abort(new QueryTimeoutError('the query ended'));
    }
    report.finishedAt = new Date().toISOString();
    try {
      await runs.recordQuery(job.dataset, job.runId, report);
    } catch (error) {
      if (!options.isLastAttempt) throw error;
      // Whatever kept the report out (once: a row over Table storage's size limit), the run must still end.
      Object.assign(report, {
        status: 'failed',
        error: `the query's report could not be stored: ${messageOf(error)}`,
        skipped: {},
        skippedDetails: [],
      });
      await runs.recordQuery(job.dataset, job.runId, report);
    }
    this.#logger.info(
      `collect: "${job.query}" ${report.status}: ${report.found} found, ${report.downloaded} downloaded, ${Object.values(report.skipped).reduce((a, b) => a + b, 0)} skipped`,
    );
    return report;
  }

  async #search(job: SearchJob, report: QueryReport, signal: AbortSignal): Promise<void> {
    const provider = this.#options.provider(job.provider);
    const { results } = await provider.search({ query: job.query, count: job.count, filters: job.filters, signal });
    report.found = results.length;
    await this.#fetchAll(job, results, report, signal);
  }

  async #fetchAll(job: SearchJob, results: ImageResult[], report: QueryReport, signal: AbortSignal): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < results.length && !signal.aborted) {
        const result = results[next++]!;
        try {
          await this.#fetchOne(job, result, signal);
          report.downloaded += 1;
        } catch (error) {
          if (!(error instanceof DownloadRefusedError)) throw error;
          report.skipped[error.reason] = (report.skipped[error.reason] ?? 0) + 1;
          // U+FFFD for lone surrogates: the report is stored, and storage wants valid Unicode.
          const detail: SkippedResult = {
            url: result.contentUrl.replace(LONE_SURROGATES, '\uFFFD'),
            reason: error.reason,
            message: error.message,
          };
          report.skippedDetails.push(detail);
        }
      }
    };
    await Promise.all(Array.from({ length: this.#options.settings.download.concurrency }, worker));
  }

  async #fetchOne(job: SearchJob, result: ImageResult, signal: AbortSignal): Promise<void> {
    if (result.contentUrl.length > MAX_RESULT_URL_CHARS)
      throw new DownloadRefusedError(
        'bad-url',
        `the result's URL has ${result.contentUrl.length} characters, more than ${MAX_RESULT_URL_CHARS}`,
      );
    // encodeURI throws on a lone surrogate, and one such result must not fail the whole query.
    const malformed = Object.entries(result).find(
      ([, value]) => typeof value === 'string' && LONE_SURROGATE.test(value),
    );
    if (malformed)
      throw new DownloadRefusedError(
        'malformed-result',
        `the result's ${malformed[0]} is not valid Unicode (a lone UTF-16 surrogate)`,
      );
    const runs = this.#options.runs;
    if (await runs.wasDownloaded(job.dataset, result.contentUrl)) {
      throw new DownloadRefusedError(
        'already-downloaded',
        `${result.contentUrl} was downloaded into "${job.dataset}" before`,
      );
    }
    const content =
      result.content ??
      (await this.#options.download(result.contentUrl, { ...this.#options.settings.download, signal })).content;
    const blobName = incomingBlobName(job.dataset, job.label, blobFileName(job.provider, result));
    await this.#options.incoming
      .getBlockBlobClient(blobName)
      .uploadData(content, { metadata: provenance(job, result) });
    await runs.markDownloaded(job.dataset, result.contentUrl, blobName);
  }
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** The same URL always lands at the same name: a repeated download replaces, never multiplies. */
function blobFileName(provider: string, result: ImageResult): string {
  const digest = createHash('sha256').update(result.contentUrl).digest('hex').slice(0, 20);
  const extension = (
    { jpeg: 'jpg', jpg: 'jpg', png: 'png', gif: 'gif', webp: 'webp', bmp: 'bmp', tiff: 'tif', avif: 'avif' } as Record<
      string,
      string
    >
  )[(result.encodingFormat ?? '').toLowerCase()];
  return `${provider}-${digest}${extension ? `.${extension}` : ''}`;
}

/** Search provenance as blob metadata (ingest records it in the catalog). Values are ASCII: URLs stay encoded. */
function provenance(job: SearchJob, result: ImageResult): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    source: 'search',
    provider: job.provider,
    query: job.query,
    run_id: job.runId,
    content_url: result.contentUrl,
    host_page_url: result.hostPageUrl,
    image_id: result.imageId,
    license_filter:
      job.filters.license ??
      [job.filters.requireCommercialUse ? 'commercial' : '', job.filters.requireModification ? 'modification' : '']
        .filter(Boolean)
        .join(','),
    license: result.license,
    license_url: result.licenseUrl,
    creator: result.creator,
    attribution: result.attribution,
  };
  const entries = Object.entries(fields)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    .map(([key, value]): [string, string] => [key, encodeURI(value).slice(0, 2000)]);
  // Within the blob's metadata limit: the longest values give way first (they are URLs and attributions).
  let total = entries.reduce((sum, [key, value]) => sum + key.length + value.length, 0);
  while (total > MAX_METADATA_BYTES) {
    const longest = entries.reduce((a, b) => (b[1].length > a[1].length ? b : a));
    const keep = Math.max(0, longest[1].length - (total - MAX_METADATA_BYTES));
    total -= longest[1].length - keep;
    // Never end inside a %XX escape.
    longest[1] = longest[1].slice(0, keep).replace(/%[0-9A-F]?$/i, '');
  }
  return Object.fromEntries(entries);
}

function parseJob(input: unknown): SearchJob {
  const job = input as Partial<SearchJob> | null;
  if (
    !job ||
    typeof job.dataset !== 'string' ||
    typeof job.runId !== 'string' ||
    typeof job.index !== 'number' ||
    typeof job.query !== 'string' ||
    typeof job.label !== 'string' ||
    typeof job.provider !== 'string' ||
    typeof job.count !== 'number'
  ) {
    // The collector itself enqueues the jobs: a message that is none is no request's doing.
    throw new ProgrammingError(`not a search job: ${JSON.stringify(input)?.slice(0, 200)}`);
  }
  return { ...(job as SearchJob), filters: job.filters ?? {} };
}

// The demo's pipeline over the app's HTTP API, as a newcomer would drive it: store a collection plan, collect,
// wait for ingest, train, read the model's metrics.json and classify fresh images. What is already there (a
// finished collection run, a serving model) is reused, not rebuilt. `npm run demo` (main.ts) runs it on the local
// stack; its test runs it with a smaller plan. The report's figures come from the app's answers only.
import { isRunFinished, type RunRecord, type RunReport } from '../collect/runs';
import { renderGarment } from '../collect/syntheticImages';
import type { DatasetSummary } from '../dataset/queries';
import type { ModelList, ModelVersionDetail } from '../model/registry';
import type { TrainJob } from '../train/jobs';
import type { DemoApi } from './demoApi';

/** How the demo shows its long steps (main.ts draws progress bars; a test passes nothing). */
export interface DemoProgress {
  /** A step with `total` units of work begins (`unit` names them: images, %). */
  begin(step: string, total: number, unit: string): void;
  update(done: number, total: number, detail?: string): void;
  end(): void;
  /** A line of news between steps (a reused dataset or model). */
  note(message: string): void;
}

export interface DemoOptions {
  api: DemoApi;
  dataset: string;
  /** The collection plan to store (validated by the app), e.g. examples/clothing-offline.json resized. */
  plan: Record<string, unknown>;
  /** The train request's body (augmentedViews, searchBudgetInS...). */
  trainOptions?: Record<string, unknown>;
  /** Fresh generated images to classify through the endpoint; default 6. */
  classifyImages?: number;
  /** Default 1000. */
  pollIntervalInMs?: number;
  /** The longest any one step may take; default 30 minutes. */
  stepTimeoutInMs?: number;
  progress?: DemoProgress;
}

export interface DemoClassification {
  /** What the fresh image shows: its item and pattern. */
  item: string;
  expected: string;
  predicted: string;
  probability: number;
  /** The request's round trip, as the caller saw it. */
  latencyInMs: number;
  /** The endpoint's own timing of decoding and inference. */
  serverTotalInMs: number;
}

export interface DemoReport {
  dataset: string;
  /** What was found in storage and used as it was. */
  reused: { dataset: boolean; model: boolean };
  images: {
    /** Downloaded by the dataset's collection runs. */
    collected: number;
    accepted: number;
    duplicate: number;
    nearDuplicate: number;
    rejected: number;
  };
  /** Accepted images per label and split, as ingest assigned them. */
  labels: Record<string, { train: number; test: number }>;
  model: {
    version: string;
    /** Test-split top-1 accuracy from the version's metrics.json. */
    accuracy: number;
    testImages: number;
    labels: string[];
    /** metrics.json's confusion matrix: rows are the true labels, columns the predicted ones, in `labels` order. */
    confusionMatrix: number[][];
  };
  classifications: DemoClassification[];
  /** Seconds each step took (0 when reused). */
  stepsInS: { collect: number; ingest: number; train: number; classify: number };
}

export class DemoStepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoStepError';
  }
}

const SEED_OF_FRESH_IMAGES = 7_100_000;

/** Runs (or resumes) the demo's pipeline on the app behind `options.api` and reports what it did. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const { api, dataset } = options;
  const progress = options.progress;
  const steps = { collect: 0, ingest: 0, train: 0, classify: 0 };
  const reused = { dataset: false, model: false };
  const path = (rest: string) => `datasets/${dataset}${rest}`;

  let serving = (await api.optional<ModelList>('GET', path('/models')))?.serving ?? null;
  if (serving) {
    reused.dataset = reused.model = true;
    progress?.note(`model ${serving.version} of dataset "${dataset}" is already trained: reusing it and its images`);
  } else {
    let started = performance.now();
    const runs = await collectionRuns(options);
    // A partial or failed run left the dataset short: collect again rather than reuse it.
    if (runs.some((run) => run.status === 'done')) {
      reused.dataset = true;
      progress?.note(`dataset "${dataset}" was collected before: reusing its images`);
    } else {
      await collect(
        options,
        runs.find((run) => run.status === 'running'),
      );
    }
    steps.collect = seconds(started);
    started = performance.now();
    await waitForIngest(options, await collectionRuns(options));
    steps.ingest = seconds(started);
    started = performance.now();
    await train(options);
    steps.train = seconds(started);
    serving = (await api.json<ModelList>('GET', path('/models'))).serving;
    if (!serving) throw new DemoStepError(`training succeeded but dataset "${dataset}" has no serving model`);
  }

  const summary = await api.json<DatasetSummary>('GET', path(''));
  const runs = await collectionRuns(options);
  const detail = await api.json<ModelVersionDetail>('GET', path(`/models/${encodeURIComponent(serving.version)}`));
  const metrics = detail.metricsFile as
    { accuracy?: number; count?: number; labels?: string[]; confusionMatrix?: number[][] } | undefined;
  if (metrics?.accuracy === undefined || !metrics.labels || !metrics.confusionMatrix)
    throw new DemoStepError(
      `model ${serving.version} has no single-label metrics.json (accuracy, labels, confusionMatrix)`,
    );

  const started = performance.now();
  const classifications = await classifyFresh(options, metrics.labels);
  steps.classify = seconds(started);

  return {
    dataset,
    reused,
    images: {
      collected: runs.reduce((sum, run) => sum + run.imagesDownloaded, 0),
      accepted: summary.images.accepted,
      duplicate: summary.images.duplicate,
      nearDuplicate: summary.images.nearDuplicate,
      rejected: summary.images.rejected,
    },
    labels: summary.labels,
    model: {
      version: serving.version,
      accuracy: metrics.accuracy,
      testImages: metrics.count ?? metrics.confusionMatrix.flat().reduce((sum, n) => sum + n, 0),
      labels: metrics.labels,
      confusionMatrix: metrics.confusionMatrix,
    },
    classifications,
    stepsInS: steps,
  };
}

async function collectionRuns({ api, dataset }: DemoOptions): Promise<RunReport[]> {
  const listed = await api.optional<{ runs: RunRecord[] }>('GET', `datasets/${dataset}/collect`);
  return Promise.all(
    (listed?.runs ?? []).map((run) => api.json<RunReport>('GET', `datasets/${dataset}/collect/${run.runId}`)),
  );
}

/** Stores the plan and starts a run (or follows the one an interrupted demo left running) until it is done. */
async function collect(options: DemoOptions, running: RunReport | undefined): Promise<void> {
  const { api, dataset, progress } = options;
  let runId = running?.runId;
  if (runId) progress?.note(`a collection run of "${dataset}" was under way: following it`);
  else {
    await api.json('PUT', `datasets/${dataset}/collection-plan`, options.plan);
    runId = (await api.json<{ runId: string }>('POST', `datasets/${dataset}/collect`)).runId;
  }
  let begun = false;
  const report = await poll(options, `collection run ${runId}`, async () => {
    const run = await api.json<RunReport>('GET', `datasets/${dataset}/collect/${runId}`);
    const total = run.queries * run.imagesPerQuery;
    if (!begun) progress?.begin('collect', total, 'images');
    begun = true;
    progress?.update(run.imagesFound, total, `${run.queriesDone}/${run.queries} queries`);
    return isRunFinished(run) ? run : undefined;
  });
  progress?.end();
  if (report.queriesFailed > 0) {
    const failed = report.queryReports.find((query) => query.status === 'failed');
    throw new DemoStepError(
      `${report.queriesFailed} of ${report.queries} queries of run ${report.runId} failed` +
        (failed ? `; "${failed.query}": ${failed.error ?? 'no error recorded'}` : ''),
    );
  }
}

/** Waits until the catalog holds every image the runs downloaded (ingest runs on the host's blob trigger). */
async function waitForIngest(options: DemoOptions, runs: RunReport[]): Promise<void> {
  const { api, dataset, progress } = options;
  const expected = runs.reduce((sum, run) => sum + run.imagesDownloaded, 0);
  progress?.begin('ingest', expected, 'images');
  await poll(options, `ingest of ${expected} images into "${dataset}"`, async () => {
    const summary = await api.optional<DatasetSummary>('GET', `datasets/${dataset}`);
    const done = summary ? Object.values(summary.images).reduce((sum, n) => sum + n, 0) : 0;
    progress?.update(Math.min(done, expected), expected, `${summary?.images.accepted ?? 0} accepted`);
    return done >= expected ? true : undefined;
  });
  progress?.end();
}

async function train(options: DemoOptions): Promise<void> {
  const { api, dataset, progress } = options;
  const { jobId } = await api.json<{ jobId: string }>('POST', `datasets/${dataset}/train`, options.trainOptions ?? {});
  progress?.begin('train', 100, '%');
  const job = await poll(options, `training job ${jobId}`, async () => {
    const current = await api.json<TrainJob>('GET', `datasets/${dataset}/jobs/${jobId}`);
    progress?.update(Math.round(current.progress * 100), 100, current.stage);
    return current.status === 'succeeded' || current.status === 'failed' ? current : undefined;
  });
  progress?.end();
  if (job.status === 'failed')
    throw new DemoStepError(`training job ${jobId} failed: ${job.error ?? 'no error recorded'}`);
}

/** Classifies generated garments the model has never seen (other seeds than any collected image), one by one. */
async function classifyFresh(options: DemoOptions, labels: string[]): Promise<DemoClassification[]> {
  const items = ['t-shirt', 'hoodie', 'blouse', 'sweater', 'vest', 'shirt', 'pullover'];
  const results: DemoClassification[] = [];
  for (let i = 0; i < (options.classifyImages ?? 6); i++) {
    const expected = labels[i % labels.length]!;
    const item = items[i % items.length]!;
    const content = await renderGarment({ item, pattern: expected, seed: SEED_OF_FRESH_IMAGES + i });
    const { body, elapsedInMs } = await options.api.postBytes<{
      predictions: { label: string; probability: number }[];
      timingInMs: { total: number };
    }>(`datasets/${options.dataset}/classify?top=1`, content);
    const top = body.predictions[0];
    if (!top) throw new DemoStepError(`classify answered no prediction for a ${expected} ${item}`);
    results.push({
      item,
      expected,
      predicted: top.label,
      probability: top.probability,
      latencyInMs: elapsedInMs,
      serverTotalInMs: body.timingInMs.total,
    });
  }
  return results;
}

async function poll<T>(options: DemoOptions, what: string, check: () => Promise<T | undefined>): Promise<T> {
  const timeoutInMs = options.stepTimeoutInMs ?? 30 * 60_000;
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new DemoStepError(`${what} did not finish within ${timeoutInMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalInMs ?? 1000));
  }
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

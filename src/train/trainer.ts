// The trainer: one training job from the catalog's fixed splits to a published model. Features of the frozen
// backbone (cached in blob storage), the recipe search inside the training split (preprocessing, views, test-time
// mirroring, and the L2 strength of a logistic head: softmax, or sigmoid when images carry several labels),
// evaluation on the test split, a learning curve, plots, one fused ONNX model, and a pointer that moves only to a
// model at least as good as the current one. runTrainingJob reads as its stages; the job's record says which one
// runs, and its progress (0 to 1 over the whole job, JobProgress) only moves forward.
import { readFile } from 'node:fs/promises';

import type { ContainerClient } from '@azure/storage-blob';

import type { Catalog, ImageRecord } from '../dataset/catalog';
import { labelsOf } from '../dataset/names';
import { ensureError, messageOf } from '../errors';
import { describeResize, resizeId } from '../image/preprocessing';
import { DEFAULT_BACKBONE, type TrainJob } from '../model/published';
import type { ModelRegistry, PromotionResult } from '../model/registry';
import { fuseLinearHead, supportsTestTimeMirror } from '../onnx/fuseHead';
import { type Backbone, ensureBackboneModel, loadBackbone, withInputSize } from './backbone';
import type { BackboneRegistry } from './backbones';
import type { FeatureCache } from './featureCache';
import { rarestLabels } from './folds';
import { type GpuSummary, startGpuMonitor } from './gpuMonitor';
import { HEARTBEAT_INTERVAL_MS, type JobStore } from './jobs';
import {
  assessLearningCurve,
  type LearningCurveAssessment,
  learningCurveShares,
  stratifiedSubset,
} from './learningCurve';
import { LogisticSolver } from './logistic';
import { imageFeatures, type RecipeTraining, scoreInputs, trainRecipe } from './pipeline';
import { learningCurveSvg } from './plots';
import { JobProgress } from './progress';
import {
  describeRecipe,
  describeViews,
  type FeatureSource,
  fitRecipe,
  type Recipe,
  type TrainedRecipeHead,
  type ViewSet,
} from './recipe';
import type { RecipeSearchResult, SearchStep } from './recipeSearch';
import { taskOfLabelSets, type TaskStrategy, type TestEvaluation } from './task';

export interface TrainerDependencies {
  catalog: Catalog;
  incoming: ContainerClient;
  jobs: JobStore;
  models: ModelRegistry;
  /** Backbones registered besides the built-in one (needed when a job names one). */
  backbones?: BackboneRegistry;
  /** Where backbone features are kept between jobs (the entry point: the `features` container); default the disk cache. */
  features?: FeatureCache;
  /**
   * ONNX Runtime providers for the backbone, in order (CPU is the fallback); default ['cpu']. The head always trains
   * on CPU: its step is too small for a GPU to pay for the transfers (see the README's GPU measurements).
   */
  executionProviders?: readonly string[];
  log?: (message: string) => void;
}

interface LabelledImage {
  record: ImageRecord;
  /** Indices into the dataset's sorted labels: one, or several for a multi-label image. */
  labelIndices: number[];
}

/** Each stage's span of the job's progress, in the order they run. */
const SPANS = {
  loading: [0, 0.02],
  features: [0.02, 0.05],
  search: [0.05, 0.8],
  training: [0.8, 0.83],
  evaluating: [0.83, 0.88],
  'learning-curve': [0.88, 0.95],
  publishing: [0.95, 1],
} as const satisfies Record<string, readonly [number, number]>;

/** Of a search candidate's span, the share its views' extraction takes (the rest is its training by inner CV). */
const EXTRACTION_SHARE = 0.8;

/** One run of a job: its log, its progress on the job's record, and the heartbeat and GPU samples around it. */
interface JobRun {
  dataset: string;
  jobId: string;
  job: TrainJob;
  log: (message: string) => void;
  /** The log so far, as training.log. */
  lines: string[];
  progress: JobProgress;
  /** Enters a stage of SPANS, logged (a stage the job is in already: nothing). */
  stage(name: keyof typeof SPANS): Promise<void>;
  /** Stops the GPU samples and gives their summary (the same on every call). */
  gpuSummary(): Promise<GpuSummary | undefined>;
  /** Stops the heartbeat and the GPU samples. */
  stop(): Promise<void>;
}

/** What the job trains on: the dataset's labels and task, its splits and their images' bytes. */
interface JobData {
  labels: string[];
  strategy: TaskStrategy;
  train: LabelledImage[];
  test: LabelledImage[];
  trainBytes: Buffer[];
  testBytes: Buffer[];
}

/** Runs the job to the end; a failure leaves the job failed with its error, and the current model untouched. */
export async function runTrainingJob(deps: TrainerDependencies, dataset: string, jobId: string): Promise<void> {
  const run = await startRun(deps, dataset, jobId);
  let backbone: Backbone | undefined;
  try {
    const data = await loadData(deps, run);
    backbone = await loadJobBackbone(deps, run);
    const backboneBytes = new Uint8Array(await readFile(backbone.modelPath));
    const { training, trainViews } = await searchAndFit(deps, run, data, backbone, backboneBytes);
    const evaluation = await evaluate(run, data, training);
    const curve = await learningCurve(run, data, trainViews, training);
    const promotion = await publish(deps, run, { data, backbone, backboneBytes, training, evaluation, curve });
    await finish(deps, run, { data, training, evaluation, curve, promotion });
  } catch (error) {
    await fail(deps, run, error);
    throw error;
  } finally {
    await run.stop();
    await backbone?.session.release();
  }
}

/** Marks the job running and starts its log, progress, heartbeat and GPU samples. */
async function startRun(deps: TrainerDependencies, dataset: string, jobId: string): Promise<JobRun> {
  const lines: string[] = [];
  const log = (message: string) => {
    const line = `[${new Date().toISOString()}] ${message}`;
    lines.push(line);
    (deps.log ?? console.log)(line);
  };
  const job = await deps.jobs.get(dataset, jobId);
  const now = new Date().toISOString();
  await deps.jobs.update(dataset, jobId, { status: 'running', stage: 'loading', startedAt: now, heartbeatAt: now });
  // A trainer that dies with its host (kill -9, a lost container) stops beating, and readers of the job then see it failed.
  const heartbeat = setInterval(() => {
    deps.jobs
      .update(dataset, jobId, { heartbeatAt: new Date().toISOString() })
      .catch((error: unknown) => log(`heartbeat not recorded: ${messageOf(error)}`));
  }, HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();
  const gpu = startGpuMonitor({ log });
  const progress = new JobProgress(
    (change) => deps.jobs.update(dataset, jobId, change),
    (error) => log(`progress not recorded: ${messageOf(error)}`),
  );
  let gpuSummary: Promise<GpuSummary | undefined> | undefined;
  return {
    dataset,
    jobId,
    job,
    log,
    lines,
    progress,
    stage: (name) => {
      if (progress.stage !== name) log(`stage: ${name}`);
      return progress.enter(name, SPANS[name][0], SPANS[name][1]);
    },
    gpuSummary: () => (gpuSummary ??= gpu.stop()),
    stop: async () => {
      clearInterval(heartbeat);
      await (gpuSummary ??= gpu.stop());
    },
  };
}

/** The splits and their images' bytes. */
async function loadData(deps: TrainerDependencies, run: JobRun): Promise<JobData> {
  await run.stage('loading');
  const { labels, strategy, train, test } = await loadSplits(deps.catalog, run.dataset);
  run.log(
    `dataset "${run.dataset}": ${strategy.task}, ${labels.length} labels (${labels.join(', ')}), ${train.length} train and ${test.length} test images`,
  );
  const [trainBytes, testBytes] = await Promise.all([download(deps.incoming, train), download(deps.incoming, test)]);
  return { labels, strategy, train, test, trainBytes, testBytes };
}

/** The job's backbone (the built-in one or a registered one), at the job's input size. */
async function loadJobBackbone(deps: TrainerDependencies, run: JobRun): Promise<Backbone> {
  await run.stage('features');
  const { log } = run;
  const { options } = run.job;
  const name = options.backbone;
  if (name !== DEFAULT_BACKBONE && !deps.backbones)
    throw new Error(`backbone "${name}" is a registered one, and this trainer was given no backbone registry`);
  const stored =
    name === DEFAULT_BACKBONE ? await ensureBackboneModel({ log }) : await deps.backbones!.ensureModel(name, { log });
  const backbone = await loadBackbone({
    log,
    executionProviders: deps.executionProviders ?? ['cpu'],
    model: withInputSize(stored, options.inputSize ?? stored.inputSize),
  });
  log(
    `backbone: ${backbone.name}, ${backbone.inputSize}x${backbone.inputSize} input, ${backbone.featureLength} features, providers ${backbone.executionProviders.join(',')}`,
  );
  return backbone;
}

/**
 * The recipe search on the training split, the chosen head's final fit and the test images scored by it. Each
 * candidate of the search owns an equal part of the search's span; its views' extraction moves through it.
 */
async function searchAndFit(
  deps: TrainerDependencies,
  run: JobRun,
  data: JobData,
  backbone: Backbone,
  backboneBytes: Uint8Array,
): Promise<{ training: RecipeTraining; trainViews: FeatureSource }> {
  const { job, log, progress } = run;
  const cache = deps.features ? { cache: deps.features } : {};
  const trainViews = imageFeatures(backbone, data.trainBytes, {
    seed: 1,
    policy: job.options.augmentation,
    ...cache,
    progressOf: (views) => extractionProgress(run, views),
  }).views;
  const testViews = imageFeatures(backbone, data.testBytes, {
    seed: 1,
    ...cache,
    progressOf: () => (done, total) => {
      void run.stage('evaluating');
      progress.within((done / total) * EXTRACTION_SHARE);
    },
  }).views;
  const training = await trainRecipe({
    labelSets: data.train.map((image) => image.labelIndices),
    classCount: data.labels.length,
    task: data.strategy,
    features: trainViews,
    heldOut: testViews,
    augmentedViews: job.options.augmentedViews,
    allowMirror: job.options.augmentation.horizontalFlip,
    allowTestTimeMirror: supportsTestTimeMirror(backboneBytes),
    budgetInMs: job.options.searchBudgetInS * 1000,
    seed: 1,
    log,
    onStep: (step) => void searchStep(run, step),
  });
  const { search } = training;
  for (const reason of search.skipped) log(`recipe search skipped ${reason}`);
  log(
    `recipe: ${describeRecipe(search.recipe)} (search ${search.seconds.toFixed(1)} s; final fit ${search.finalFit.iterations} L-BFGS iterations${search.finalFit.converged ? '' : ', not converged'})`,
  );
  return { training, trainViews };
}

/** A candidate of the search (i of N: its part of the search's span), or the final fit. */
function searchStep(run: JobRun, step: SearchStep): Promise<void> {
  if (step.index >= step.count) return run.stage('training');
  const [from, to] = SPANS.search;
  const share = (to - from) / step.count;
  run.log(`stage: ${step.stage}`);
  return run.progress.enter(step.stage, from + share * step.index, from + share * (step.index + 1));
}

/** Reports one view set's extraction within the current candidate's span, and logs what the cache had. */
function extractionProgress(run: JobRun, views: ViewSet): (done: number, total: number) => void {
  let reported = false;
  return (done, total) => {
    // The first call counts the views the cache already had.
    if (!reported) {
      reported = true;
      run.log(
        `features (${resizeId(views.resize)}, ${describeViews(views)}): ${done} of ${total} training views from the cache, ${total - done} to compute`,
      );
    }
    run.progress.within((done / total) * EXTRACTION_SHARE);
  };
}

/** The test split's figures and plots. */
async function evaluate(run: JobRun, data: JobData, training: RecipeTraining): Promise<TestEvaluation> {
  await run.stage('evaluating');
  const evaluation = data.strategy.evaluateTest(
    data.labels,
    data.test.map((image) => image.labelIndices),
    training.heldOutScores,
    training.search.head.threshold,
  );
  run.log(`test ${evaluation.headline} on ${data.test.length} images`);
  return evaluation;
}

type Curve = { trainingImages: number; accuracy: number }[];

interface LearningCurve {
  points: Curve;
  assessment: LearningCurveAssessment;
}

/** The learning curve and its verdict. */
async function learningCurve(
  run: JobRun,
  data: JobData,
  trainViews: FeatureSource,
  training: RecipeTraining,
): Promise<LearningCurve> {
  await run.stage('learning-curve');
  const points = await learningCurvePoints(
    data,
    await trainViews(training.search.recipe),
    training.heldOutInputs,
    training.search.recipe,
    training.search.head,
    (fraction) => run.progress.within(fraction),
  );
  const assessment = assessLearningCurve(points, { metric: data.strategy.metric });
  run.log(`learning curve: ${assessment.verdict}`);
  return { points, assessment };
}

/** The fused model, its metrics, plots and log, stored as a version; the pointer moves to it if it is as good. */
async function publish(
  deps: TrainerDependencies,
  run: JobRun,
  result: {
    data: JobData;
    backbone: Backbone;
    backboneBytes: Uint8Array;
    training: RecipeTraining;
    evaluation: TestEvaluation;
    curve: LearningCurve;
  },
): Promise<PromotionResult> {
  await run.stage('publishing');
  const { data, backbone, training, evaluation, curve } = result;
  const { recipe, head } = training.search;
  const { dataset, jobId, job } = run;
  const gpu = await run.gpuSummary();
  const metric = data.strategy.metric;
  await deps.models.storeVersion(dataset, jobId, {
    'model.onnx': Buffer.from(fuseModel(run, data, backbone, result.backboneBytes, training.search)),
    'metrics.json': JSON.stringify(
      {
        task: data.strategy.task,
        labels: data.labels,
        ...evaluation.metrics,
        learningCurve: { metric, points: curve.points, ...curve.assessment },
        head: {
          kind: head.kind,
          ...(head.threshold !== undefined ? { threshold: head.threshold } : {}),
          finalFit: training.search.finalFit,
        },
        recipe: {
          ...recipeSummary(training.search),
          recipe,
          candidates: training.search.candidates,
          innerFolds: training.search.innerFolds,
          seconds: training.search.seconds,
        },
        gpu: gpu ?? null,
        options: job.options,
      },
      null,
      2,
    ),
    ...evaluation.plots,
    'learning-curve.svg': learningCurveSvg(curve.points, curve.assessment.verdict, { metric }),
    'training.log': `${run.lines.join('\n')}\n`,
  });
  const promotion = await deps.models.promote(
    dataset,
    {
      version: jobId,
      jobId,
      task: data.strategy.task,
      backbone: backbone.name,
      inputSize: backbone.inputSize,
      resize: recipe.resize,
      ...evaluation.pointer,
      testImages: data.test.length,
      labels: data.labels,
      publishedAt: new Date().toISOString(),
    },
    { force: job.options.force },
  );
  run.log(promotion.note);
  return promotion;
}

/** The head fused onto the backbone, with the labels, task, threshold and preprocessing in its metadata. */
function fuseModel(
  run: JobRun,
  data: JobData,
  backbone: Backbone,
  backboneBytes: Uint8Array,
  search: RecipeSearchResult,
): Uint8Array {
  const { recipe, head } = search;
  return fuseLinearHead(
    backboneBytes,
    { weights: head.weights, bias: head.bias, labels: data.labels, activation: head.kind },
    {
      featuresOutput: backbone.outputNames.features,
      probabilitiesOutput: 'probabilities',
      testTimeMirror: recipe.testTimeMirror,
      metadata: {
        dataset: run.dataset,
        version: run.jobId,
        backbone: run.job.options.backbone,
        task: data.strategy.task,
        ...(head.threshold !== undefined ? { threshold: String(head.threshold) } : {}),
        preprocessing: JSON.stringify({
          input: `input: float32 NCHW [N,3,${backbone.inputSize},${backbone.inputSize}], RGB 0..255`,
          resize: {
            ...recipe.resize,
            description: `${describeResize(recipe.resize, backbone.inputSize)}; EXIF orientation applied, alpha removed`,
          },
          normalization: `inside the graph (${backbone.normalization})`,
          testTimeAugmentation: recipe.testTimeMirror
            ? 'inside the graph: the mean of the features of the input and its mirror image'
            : 'none',
        }),
      },
    },
  );
}

/** The job succeeded: its summary, and whether its model now serves. */
async function finish(
  deps: TrainerDependencies,
  run: JobRun,
  result: {
    data: JobData;
    training: RecipeTraining;
    evaluation: TestEvaluation;
    curve: LearningCurve;
    promotion: PromotionResult;
  },
): Promise<void> {
  const { data, training, evaluation, curve, promotion } = result;
  const gpu = await run.gpuSummary();
  const { assessment } = curve;
  // The last progress write lands before the final record, which it would otherwise overwrite.
  await run.progress.flush();
  await deps.jobs.update(run.dataset, run.jobId, {
    status: 'succeeded',
    stage: 'done',
    progress: 1,
    finishedAt: new Date().toISOString(),
    metrics: {
      task: data.strategy.task,
      ...evaluation.summary,
      testImages: data.test.length,
      trainImages: data.train.length,
      recipe: recipeSummary(training.search),
      learningCurve: {
        converged: assessment.converged,
        verdict: assessment.verdict,
        gainPerDoubling: assessment.gainPerDoubling,
      },
      ...(gpu ? { gpu } : {}),
    },
    modelVersion: run.jobId,
    published: promotion.promoted,
    publishNote: promotion.note,
  });
}

/** The job failed: its error on the record (the current model stays as it was). */
async function fail(deps: TrainerDependencies, run: JobRun, thrown: unknown): Promise<void> {
  await run.stop();
  const message = ensureError(thrown).message;
  run.log(`failed: ${message}`);
  await run.progress.flush();
  await deps.jobs.update(run.dataset, run.jobId, {
    status: 'failed',
    stage: 'failed',
    error: message,
    finishedAt: new Date().toISOString(),
  });
}

/**
 * The accepted images of the dataset with their fixed splits, and its task: multi-label as soon as one image carries
 * several labels. A clear error when there is nothing to learn from.
 */
export async function loadSplits(
  catalog: Catalog,
  dataset: string,
): Promise<{ labels: string[]; strategy: TaskStrategy; train: LabelledImage[]; test: LabelledImage[] }> {
  const records: ImageRecord[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await catalog.listImages(dataset, {
      status: 'accepted',
      pageSize: 1000,
      ...(continuationToken ? { continuationToken } : {}),
    });
    // Images a review excluded leave training and evaluation alike.
    records.push(...page.images.filter((image) => !image.excluded));
    continuationToken = page.continuationToken;
  } while (continuationToken);
  const labelSets = records.map((record) => labelsOf(record.label));
  const labels = [...new Set(labelSets.flat())].sort();
  if (labels.length < 2)
    throw new Error(
      `dataset "${dataset}" has ${labels.length} label(s) with accepted images; training needs at least 2`,
    );
  const index = new Map(labels.map((label, i) => [label, i]));
  const withLabels = records.map((record, i) => ({
    record,
    labelIndices: labelSets[i]!.map((label) => index.get(label)!),
  }));
  const train = withLabels.filter((r) => r.record.split === 'train');
  const test = withLabels.filter((r) => r.record.split === 'test');
  const trained = new Set(train.flatMap((t) => t.labelIndices));
  const untrained = labels.filter((_, i) => !trained.has(i));
  if (untrained.length > 0) throw new Error(`labels without training images: ${untrained.join(', ')}`);
  if (test.length === 0)
    throw new Error(`dataset "${dataset}" has no test images yet (a label needs 2 images to get one)`);
  return { labels, strategy: taskOfLabelSets(labelSets), train, test };
}

async function download(container: ContainerClient, images: LabelledImage[]): Promise<Buffer[]> {
  const out = new Array<Buffer>(images.length);
  let next = 0;
  const worker = async () => {
    while (next < images.length) {
      const i = next++;
      const blobName = images[i]!.record.blobName;
      try {
        out[i] = await container.getBlockBlobClient(blobName).downloadToBuffer();
      } catch (error) {
        const rest = error as { statusCode?: number; code?: string; message?: string };
        const reason = rest.code ?? (rest.statusCode ? `HTTP ${rest.statusCode}` : '');
        throw new Error(
          `cannot read ${container.containerName}/${blobName}: ${[reason, rest.message].filter(Boolean).join(': ') || 'unknown error'}`,
          { cause: error },
        );
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

/**
 * The task's metric on the test split (accuracy, or mAP) of the recipe's head fitted on growing, nested, stratified
 * shares of the training images (the chosen strength and views; multi-label images stratified by their rarest label).
 */
async function learningCurvePoints(
  data: Pick<JobData, 'strategy' | 'train' | 'test'>,
  trainFeatures: Float32Array[][],
  testFeatures: Float32Array[],
  recipe: Recipe,
  final: TrainedRecipeHead,
  onProgress: (fraction: number) => void,
): Promise<Curve> {
  const { strategy: task, train, test } = data;
  const classCount = final.classCount;
  const byLabel: number[][] = Array.from({ length: classCount }, () => []);
  rarestLabels(
    train.map((image) => image.labelIndices),
    classCount,
  ).forEach((label, i) => byLabel[label]!.push(i));
  const points: Curve = [];
  const shares = learningCurveShares();
  const solver = await LogisticSolver.create(final.featureCount, classCount, final.kind);
  try {
    for (const [step, share] of shares.entries()) {
      onProgress(step / shares.length);
      const subset = stratifiedSubset(byLabel, share, 7);
      if (points.length > 0 && subset.length === points[points.length - 1]!.trainingImages) continue;
      const images = subset.map((i) => train[i]!);
      // A share too small to hold every label trains no comparable model: start the curve where it does.
      if (new Set(images.flatMap((image) => image.labelIndices)).size < classCount) continue;
      // The problem is convex: starting from the final head changes the time it takes, not the answer.
      const { head } = await fitRecipe(
        solver,
        subset.map((i) => trainFeatures[i]!),
        images.map((image) => image.labelIndices),
        recipe,
        final,
      );
      const value = task.measure(
        test.map((image) => image.labelIndices),
        scoreInputs(head, testFeatures),
        classCount,
      );
      points.push({ trainingImages: subset.length, accuracy: value });
    }
  } finally {
    await solver.release();
  }
  return points;
}

/** The search's outcome for the job report: the recipe in words, each candidate's inner-CV score, what it skipped. */
function recipeSummary(search: RecipeSearchResult) {
  return {
    chosen: describeRecipe(search.recipe),
    innerCV: Object.fromEntries(search.candidates.map((c) => [c.name, Number(c.score.toFixed(4))])),
    skipped: search.skipped,
  };
}

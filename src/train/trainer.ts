// The trainer: one training job from the catalog's fixed splits to a published model. Features of the frozen
// backbone (cached in blob storage), the recipe search inside the training split (preprocessing, views, test-time
// mirroring, and the L2 strength of a logistic head: softmax, or sigmoid when images carry several labels),
// evaluation on the test split, a learning curve, plots, one fused ONNX model, and a pointer that moves only to a
// model at least as good as the current one.
import { readFile } from 'node:fs/promises';

import type { ContainerClient } from '@azure/storage-blob';

import type { Catalog, ImageRecord } from '../dataset/catalog';
import { labelsOf } from '../dataset/names';
import { describeResize, resizeId } from '../image/preprocessing';
import { DEFAULT_BACKBONE } from '../model/published';
import type { ModelRegistry } from '../model/registry';
import { fuseLinearHead, supportsTestTimeMirror } from '../onnx/fuseHead';
import { type Backbone, ensureBackboneModel, loadBackbone, withInputSize } from './backbone';
import type { BackboneRegistry } from './backbones';
import type { FeatureCache } from './featureCache';
import { startGpuMonitor } from './gpuMonitor';
import { HEARTBEAT_INTERVAL_MS, type JobStore } from './jobs';
import { assessLearningCurve, learningCurveShares, stratifiedSubset } from './learningCurve';
import { LogisticSolver } from './logistic';
import { imageFeatures, scoreInputs, trainRecipe } from './pipeline';
import { learningCurveSvg } from './plots';
import {
  describeRecipe,
  fitRecipe,
  type Recipe,
  type RecipeSearchResult,
  type TrainedRecipeHead,
  type ViewSet,
} from './recipe';
import { taskOfLabelSets, type TaskStrategy } from './task';
import { rarestLabels } from './trainHead';

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
   * on CPU: its step is too small for a GPU to pay (on an H200 through WebGPU, 10 ms a step against 0.5 ms on CPU,
   * while ResNet50 ran 7.9x faster than on 16 CPU cores).
   */
  executionProviders?: readonly string[];
  log?: (message: string) => void;
}

interface LabelledImage {
  record: ImageRecord;
  /** Indices into the dataset's sorted labels: one, or several for a multi-label image. */
  labelIndices: number[];
}

/** Runs the job to the end; a failure leaves the job failed with its error, and the current model untouched. */
export async function runTrainingJob(deps: TrainerDependencies, dataset: string, jobId: string): Promise<void> {
  const lines: string[] = [];
  const log = (message: string) => {
    const line = `[${new Date().toISOString()}] ${message}`;
    lines.push(line);
    (deps.log ?? console.log)(line);
  };
  const stage = (name: string, progress: number) => {
    log(`stage: ${name}`);
    return deps.jobs.update(dataset, jobId, { stage: name, progress });
  };
  const job = await deps.jobs.get(dataset, jobId);
  const now = new Date().toISOString();
  await deps.jobs.update(dataset, jobId, { status: 'running', stage: 'loading', startedAt: now, heartbeatAt: now });
  // A trainer that dies with its host (kill -9, a lost container) stops beating, and readers of the job then see it failed.
  const heartbeat = setInterval(() => {
    deps.jobs
      .update(dataset, jobId, { heartbeatAt: new Date().toISOString() })
      .catch((error: unknown) => log(`heartbeat not recorded: ${(error as Error).message}`));
  }, HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();
  const gpu = startGpuMonitor({ log });
  let backbone: Backbone | undefined;
  try {
    const { labels, strategy, train, test } = await loadSplits(deps.catalog, dataset);
    const task = strategy.task;
    log(
      `dataset "${dataset}": ${task}, ${labels.length} labels (${labels.join(', ')}), ${train.length} train and ${test.length} test images`,
    );
    const [trainBytes, testBytes] = await Promise.all([download(deps.incoming, train), download(deps.incoming, test)]);

    await stage('features', 0.1);
    const executionProviders = deps.executionProviders ?? ['cpu'];
    const name = job.options.backbone;
    if (name !== DEFAULT_BACKBONE && !deps.backbones)
      throw new Error(`backbone "${name}" is a registered one, and this trainer was given no backbone registry`);
    const stored =
      name === DEFAULT_BACKBONE ? await ensureBackboneModel({ log }) : await deps.backbones!.ensureModel(name, { log });
    backbone = await loadBackbone({
      log,
      executionProviders,
      model: withInputSize(stored, job.options.inputSize ?? stored.inputSize),
    });
    log(
      `backbone: ${backbone.name}, ${backbone.inputSize}x${backbone.inputSize} input, ${backbone.featureLength} features, providers ${backbone.executionProviders.join(',')}`,
    );
    const cache = deps.features ? { cache: deps.features } : {};
    const backboneBytes = new Uint8Array(await readFile(backbone.modelPath));
    const trainViews = imageFeatures(backbone, trainBytes, {
      seed: 1,
      policy: job.options.augmentation,
      ...cache,
      progressOf: (views) => {
        let reported = false;
        return (done, total) => {
          // The first call counts the views the cache already had.
          if (!reported) {
            reported = true;
            log(
              `features (${resizeId(views.resize)}, ${describeViews(views)}): ${done} of ${total} training views from the cache, ${total - done} to compute`,
            );
          }
          void deps.jobs.update(dataset, jobId, { progress: 0.1 + 0.5 * (done / total) });
        };
      },
    }).views;
    const {
      search,
      heldOutInputs: testFeatures,
      heldOutScores: testScores,
    } = await trainRecipe({
      labelSets: train.map((image) => image.labelIndices),
      classCount: labels.length,
      task: strategy,
      features: trainViews,
      heldOut: imageFeatures(backbone, testBytes, { seed: 1, ...cache }).views,
      augmentedViews: job.options.augmentedViews,
      allowMirror: job.options.augmentation.horizontalFlip,
      allowTestTimeMirror: supportsTestTimeMirror(backboneBytes),
      budgetInMs: job.options.searchBudgetInS * 1000,
      seed: 1,
      log,
    });
    const { recipe, head } = search;
    for (const reason of search.skipped) log(`recipe search skipped ${reason}`);
    log(
      `recipe: ${describeRecipe(recipe)} (search ${search.seconds.toFixed(1)} s; final fit ${search.finalFit.iterations} L-BFGS iterations${search.finalFit.converged ? '' : ', not converged'})`,
    );

    await stage('evaluating', 0.75);
    const evaluation = strategy.evaluateTest(
      labels,
      test.map((image) => image.labelIndices),
      testScores,
      head.threshold,
    );
    log(`test ${evaluation.headline} on ${test.length} images`);

    await stage('learning-curve', 0.8);
    const curve = await learningCurve(strategy, await trainViews(recipe), train, test, testFeatures, recipe, head);
    const metric = strategy.metric;
    const assessment = assessLearningCurve(curve, { metric, testImages: test.length });
    log(`learning curve: ${assessment.verdict}`);

    await stage('publishing', 0.95);
    const gpuSummary = await gpu.stop();
    const model = fuseLinearHead(
      backboneBytes,
      { weights: head.weights, bias: head.bias, labels, activation: head.kind },
      {
        featuresOutput: backbone.outputNames.features,
        probabilitiesOutput: 'probabilities',
        testTimeMirror: recipe.testTimeMirror,
        metadata: {
          dataset,
          version: jobId,
          backbone: job.options.backbone,
          task,
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
    const summary = {
      task,
      ...evaluation.summary,
      testImages: test.length,
      trainImages: train.length,
      recipe: recipeSummary(search),
      learningCurve: {
        converged: assessment.converged,
        verdict: assessment.verdict,
        gainPerDoubling: assessment.gainPerDoubling,
      },
      ...(gpuSummary ? { gpu: gpuSummary } : {}),
    };
    await deps.models.storeVersion(dataset, jobId, {
      'model.onnx': Buffer.from(model),
      'metrics.json': JSON.stringify(
        {
          task,
          labels,
          ...evaluation.metrics,
          learningCurve: { metric, points: curve, ...assessment },
          head: {
            kind: head.kind,
            ...(head.threshold !== undefined ? { threshold: head.threshold } : {}),
            finalFit: search.finalFit,
          },
          recipe: {
            ...recipeSummary(search),
            recipe,
            candidates: search.candidates,
            innerFolds: search.innerFolds,
            seconds: search.seconds,
          },
          gpu: gpuSummary ?? null,
          options: job.options,
        },
        null,
        2,
      ),
      ...evaluation.plots,
      'learning-curve.svg': learningCurveSvg(curve, assessment.verdict, { metric }),
      'training.log': `${lines.join('\n')}\n`,
    });
    const promotion = await deps.models.promote(
      dataset,
      {
        version: jobId,
        jobId,
        task,
        backbone: backbone.name,
        inputSize: backbone.inputSize,
        resize: recipe.resize,
        ...evaluation.pointer,
        testImages: test.length,
        labels,
        publishedAt: new Date().toISOString(),
      },
      { force: job.options.force },
    );
    log(promotion.note);
    await deps.jobs.update(dataset, jobId, {
      status: 'succeeded',
      stage: 'done',
      progress: 1,
      finishedAt: new Date().toISOString(),
      metrics: summary,
      modelVersion: jobId,
      published: promotion.promoted,
      publishNote: promotion.note,
    });
  } catch (error) {
    await gpu.stop();
    const message = error instanceof Error ? error.message : String(error);
    log(`failed: ${message}`);
    await deps.jobs.update(dataset, jobId, {
      status: 'failed',
      stage: 'failed',
      error: message,
      finishedAt: new Date().toISOString(),
    });
    throw error;
  } finally {
    clearInterval(heartbeat);
    await backbone?.session.release();
  }
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
async function learningCurve(
  task: TaskStrategy,
  trainFeatures: Float32Array[][],
  train: LabelledImage[],
  test: LabelledImage[],
  testFeatures: Float32Array[],
  recipe: Recipe,
  final: TrainedRecipeHead,
): Promise<{ trainingImages: number; accuracy: number }[]> {
  const classCount = final.classCount;
  const byLabel: number[][] = Array.from({ length: classCount }, () => []);
  rarestLabels(
    train.map((image) => image.labelIndices),
    classCount,
  ).forEach((label, i) => byLabel[label]!.push(i));
  const points: { trainingImages: number; accuracy: number }[] = [];
  const solver = await LogisticSolver.create(final.featureCount, classCount, final.kind);
  try {
    for (const share of learningCurveShares()) {
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

function describeViews(views: ViewSet): string {
  return `plain${views.mirror ? ' + mirror' : ''}${views.augmentedViews > 0 ? ` + ${views.augmentedViews} augmented` : ''} views`;
}

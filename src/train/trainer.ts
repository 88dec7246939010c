// The trainer: one training job from the catalog's fixed splits to a published model. Features of the frozen
// backbone (plain and augmented views, cached on disk), a linear head trained with ONNX Runtime, evaluation on
// the test split, a learning curve, plots, one fused ONNX model, and a pointer that moves only to a model at
// least as good as the current one.
import { readFile } from 'node:fs/promises';
import type { ContainerClient } from '@azure/storage-blob';
import { fuseLinearHead } from '../onnx/fuseHead';
import type { Catalog, ImageRecord } from '../dataset/catalog';
import { loadBackbone, type Backbone } from './backbone';
import { extractFeatures } from './features';
import type { JobStore, TrainOptions } from './jobs';
import { assessLearningCurve, learningCurveShares, stratifiedSubset } from './learningCurve';
import { evaluateSingleLabel } from './metrics';
import type { ModelRegistry } from './models';
import { confusionMatrixSvg, learningCurveSvg, perClassBarsSvg } from './plots';
import { trainHead, type TrainedHead } from './trainHead';
import { startGpuMonitor } from './gpuMonitor';

export interface TrainerDependencies {
  catalog: Catalog;
  incoming: ContainerClient;
  jobs: JobStore;
  models: ModelRegistry;
  /** ONNX Runtime providers in order (CPU is the fallback); default ['cpu']. */
  executionProviders?: readonly string[];
  log?: (message: string) => void;
}

interface LabelledImage {
  record: ImageRecord;
  labelIndex: number;
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
  await deps.jobs.update(dataset, jobId, { status: 'running', stage: 'loading', startedAt: new Date().toISOString() });
  const gpu = startGpuMonitor({ log });
  let backbone: Backbone | undefined;
  try {
    const { labels, train, test } = await loadSplits(deps.catalog, dataset);
    log(`dataset "${dataset}": ${labels.length} labels (${labels.join(', ')}), ${train.length} train and ${test.length} test images`);
    const [trainBytes, testBytes] = await Promise.all([download(deps.incoming, train), download(deps.incoming, test)]);

    await stage('features', 0.1);
    const executionProviders = deps.executionProviders ?? ['cpu'];
    backbone = await loadBackbone({ log, executionProviders });
    const views = 1 + job.options.augmentedViews;
    const trainFeatures = await extractFeatures(backbone, trainBytes, {
      augmentations: views,
      policy: job.options.augmentation,
      seed: 1,
      onProgress: (done, total) => void deps.jobs.update(dataset, jobId, { progress: 0.1 + 0.5 * (done / total) }),
    });
    const testFeatures = (await extractFeatures(backbone, testBytes)).map((perView) => perView[0]!);

    await stage('training', 0.6);
    const head = await fitHead(trainFeatures, train, labels.length, job.options, executionProviders);
    log(`head: best epoch ${head.bestEpoch} of ${head.history.length}, providers ${head.executionProviders.join(',')}`);

    await stage('evaluating', 0.75);
    const metrics = evaluateSingleLabel({ labels, truth: test.map((t) => t.labelIndex), scores: testFeatures.map((f) => scoreHead(head, f)) });
    log(`test accuracy ${(metrics.accuracy * 100).toFixed(1)}% on ${metrics.count} images`);

    await stage('learning-curve', 0.8);
    const curve = await learningCurve(trainFeatures, train, test, testFeatures, labels.length, job.options);
    const assessment = assessLearningCurve(curve);
    log(`learning curve: ${assessment.verdict}`);

    await stage('publishing', 0.95);
    const gpuSummary = await gpu.stop();
    const model = fuseLinearHead(
      new Uint8Array(await readFile(backbone.modelPath)),
      { weights: head.weights, bias: head.bias, labels },
      {
        featuresOutput: backbone.outputNames.features,
        probabilitiesOutput: 'probabilities',
        metadata: {
          dataset,
          version: jobId,
          backbone: job.options.backbone,
          task: 'single-label',
          preprocessing: JSON.stringify({
            input: 'input: float32 NCHW [N,3,224,224], RGB 0..255',
            resize: 'straight to 224x224 (no aspect-preserving crop), EXIF orientation applied, alpha removed',
            normalization: 'inside the graph (Keras caffe: RGB to BGR, minus mean [103.939, 116.779, 123.68])',
          }),
        },
      },
    );
    const summary = {
      accuracy: metrics.accuracy,
      topK: metrics.topK,
      macroF1: metrics.macro.f1,
      testImages: metrics.count,
      trainImages: train.length,
      learningCurve: { converged: assessment.converged, verdict: assessment.verdict, gainPerDoubling: assessment.gainPerDoubling },
      ...(gpuSummary ? { gpu: gpuSummary } : {}),
    };
    await deps.models.storeVersion(dataset, jobId, {
      'model.onnx': Buffer.from(model),
      'metrics.json': JSON.stringify({ labels, ...metrics, learningCurve: { points: curve, ...assessment }, head: { bestEpoch: head.bestEpoch, history: head.history }, gpu: gpuSummary ?? null, options: job.options }, null, 2),
      'confusion-matrix.svg': confusionMatrixSvg(labels, metrics.confusionMatrix),
      'per-class.svg': perClassBarsSvg(metrics.perClass),
      'learning-curve.svg': learningCurveSvg(curve, assessment.verdict),
      'training.log': `${lines.join('\n')}\n`,
    });
    const promotion = await deps.models.promote(
      dataset,
      { version: jobId, jobId, accuracy: metrics.accuracy, testImages: metrics.count, labels, publishedAt: new Date().toISOString() },
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
    await deps.jobs.update(dataset, jobId, { status: 'failed', stage: 'failed', error: message, finishedAt: new Date().toISOString() });
    throw error;
  } finally {
    await backbone?.session.release();
  }
}

/** The accepted images of the dataset with their fixed splits; a clear error when there is nothing to learn from. */
async function loadSplits(catalog: Catalog, dataset: string): Promise<{ labels: string[]; train: LabelledImage[]; test: LabelledImage[] }> {
  const records: ImageRecord[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await catalog.listImages(dataset, { status: 'accepted', pageSize: 1000, ...(continuationToken ? { continuationToken } : {}) });
    records.push(...page.images);
    continuationToken = page.continuationToken;
  } while (continuationToken);
  const labels = [...new Set(records.map((r) => r.label))].sort();
  if (labels.length < 2) throw new Error(`dataset "${dataset}" has ${labels.length} label(s) with accepted images; training needs at least 2`);
  const index = new Map(labels.map((label, i) => [label, i]));
  const withLabels = records.map((record) => ({ record, labelIndex: index.get(record.label)! }));
  const train = withLabels.filter((r) => r.record.split === 'train');
  const test = withLabels.filter((r) => r.record.split === 'test');
  const untrained = labels.filter((label) => !train.some((t) => t.record.label === label));
  if (untrained.length > 0) throw new Error(`labels without training images: ${untrained.join(', ')}`);
  if (test.length === 0) throw new Error(`dataset "${dataset}" has no test images yet (a label needs 2 images to get one)`);
  return { labels, train, test };
}

async function download(container: ContainerClient, images: LabelledImage[]): Promise<Buffer[]> {
  const out: Buffer[] = new Array(images.length);
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
        throw new Error(`cannot read ${container.containerName}/${blobName}: ${[reason, rest.message].filter(Boolean).join(': ') || 'unknown error'}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

function fitHead(
  features: Float32Array[][],
  images: LabelledImage[],
  classCount: number,
  options: TrainOptions,
  executionProviders: readonly string[] = ['cpu'],
): Promise<TrainedHead> {
  const rows: Float32Array[] = [];
  const labels: number[] = [];
  const groups: number[] = [];
  features.forEach((views, image) => {
    for (const view of views) {
      rows.push(view);
      labels.push(images[image]!.labelIndex);
      groups.push(image);
    }
  });
  return trainHead({ features: rows, labels, groups, classCount, epochs: options.epochs, seed: 1, executionProviders });
}

/** softmax(x · W + b) for one feature vector. */
function scoreHead(head: TrainedHead, x: Float32Array): number[] {
  const logits = new Array<number>(head.classCount).fill(0);
  for (let c = 0; c < head.classCount; c++) {
    let sum = head.bias[c]!;
    for (let d = 0; d < head.featureCount; d++) sum += x[d]! * head.weights[d * head.classCount + c]!;
    logits[c] = sum;
  }
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/** Test accuracy of heads trained on growing, nested, stratified shares of the training images. */
async function learningCurve(
  trainFeatures: Float32Array[][],
  train: LabelledImage[],
  test: LabelledImage[],
  testFeatures: Float32Array[],
  classCount: number,
  options: TrainOptions,
): Promise<{ trainingImages: number; accuracy: number }[]> {
  const byLabel: number[][] = Array.from({ length: classCount }, () => []);
  train.forEach((image, i) => byLabel[image.labelIndex]!.push(i));
  const points: { trainingImages: number; accuracy: number }[] = [];
  for (const share of learningCurveShares()) {
    const subset = stratifiedSubset(byLabel, share, 7);
    if (points.length > 0 && subset.length === points[points.length - 1]!.trainingImages) continue;
    const head = await fitHead(subset.map((i) => trainFeatures[i]!), subset.map((i) => train[i]!), classCount, options);
    const correct = test.filter((image, i) => argmax(scoreHead(head, testFeatures[i]!)) === image.labelIndex).length;
    points.push({ trainingImages: subset.length, accuracy: correct / test.length });
  }
  return points;
}

function argmax(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

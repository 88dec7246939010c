// Offline evaluation of the whole recipe (frozen backbone + linear head) on a folder DIR/<label>/<image>: stratified,
// seeded k-fold cross-validation. Features are extracted once (training views optionally augmented, test views
// always plain, as inference sees them); the head is trained per fold on the other folds.
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { InvalidArgumentError } from '../errors';
import { seededRandom } from '../util/seededRandom';
import type { AugmentationPolicy } from './augment';
import { loadBackbone, type Backbone } from './backbone';
import { extractFeatures } from './features';
import { evaluateSingleLabel, type SingleLabelMetrics } from './metrics';
import { trainHead, type TrainHeadOptions } from './trainHead';

/** What sharp decodes and the collectors store. */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp']);

export type HeadSettings = Pick<
  TrainHeadOptions,
  'epochs' | 'batchSize' | 'learningRate' | 'weightDecay' | 'weightDecayMode' | 'labelSmoothing' | 'validationShare' | 'patience' | 'refit' | 'standardize' | 'executionProviders'
>;

export interface EvaluateFolderOptions {
  /** Default 5. */
  folds?: number;
  /** Augmented views per training image, besides the plain one; default 0. */
  augment?: number;
  policy?: AugmentationPolicy;
  /** Seeds the folds, the augmented views and the head; default 0. */
  seed?: number;
  head?: HeadSettings;
  /** A loaded backbone to reuse (it is not released); default: loadBackbone(), released at the end. */
  backbone?: Backbone;
  /** Feature cache folder, or false; default as extractFeatures. */
  cacheDir?: string | false;
  onProgress?: (message: string) => void;
}

export interface FoldResult {
  fold: number;
  testCount: number;
  accuracy: number;
  bestEpoch: number;
}

export interface FolderEvaluation {
  labels: string[];
  imageCount: number;
  folds: number;
  augment: number;
  seed: number;
  head: HeadSettings;
  perFold: FoldResult[];
  /** Mean of the fold accuracies and their sample standard deviation (n - 1). */
  meanAccuracy: number;
  stdAccuracy: number;
  /** Metrics of all test predictions together (each image is tested exactly once). */
  pooled: SingleLabelMetrics;
  seconds: { backbone: number; features: number; training: number; total: number };
}

export interface LabelledFiles {
  labels: string[];
  files: { path: string; label: number }[];
}

/** Lists DIR/<label>/<image>, labels and files sorted by name so that runs are reproducible. */
export async function listLabelledImages(dir: string): Promise<LabelledFiles> {
  if (!existsSync(dir)) throw new InvalidArgumentError(`${dir} does not exist`);
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const labels = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  const files: LabelledFiles['files'] = [];
  for (const [index, label] of labels.entries()) {
    const names = (await fs.readdir(path.join(dir, label))).filter((name) => !name.startsWith('.') && IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase())).sort();
    for (const name of names) files.push({ path: path.join(dir, label, name), label: index });
  }
  const used = labels.filter((_, i) => files.some((f) => f.label === i));
  if (used.length < 2) throw new InvalidArgumentError(`${dir} needs at least two label folders with images (DIR/<label>/<image>); found ${used.length}`);
  if (used.length !== labels.length) {
    const empty = labels.filter((l) => !used.includes(l));
    throw new InvalidArgumentError(`label folders without images: ${empty.join(', ')}`);
  }
  return { labels, files };
}

/** Fold index of each sample: each class shuffled (seeded) and dealt round-robin, continuing across classes so folds stay even. */
export function stratifiedFolds(labels: readonly number[], folds: number, seed: number): number[] {
  if (!Number.isInteger(folds) || folds < 2) throw new InvalidArgumentError(`folds must be an integer of at least 2, got ${folds}`);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, i) => byClass.set(label, [...(byClass.get(label) ?? []), i]));
  const smallest = Math.min(...[...byClass.values()].map((m) => m.length));
  if (smallest < folds) throw new InvalidArgumentError(`${folds} folds need at least ${folds} images per label; the smallest label has ${smallest}`);
  const random = seededRandom(seed);
  const assignment = new Array<number>(labels.length).fill(-1);
  let next = 0;
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(label)!;
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    for (const member of members) assignment[member] = next++ % folds;
  }
  return assignment;
}

export async function evaluateFolder(dir: string, options: EvaluateFolderOptions = {}): Promise<FolderEvaluation> {
  const started = Date.now();
  const folds = options.folds ?? 5;
  const augment = options.augment ?? 0;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(augment) || augment < 0 || augment > 32) throw new InvalidArgumentError(`augment must be an integer from 0 to 32 (extra views per training image), got ${augment}`);
  if (!Number.isInteger(seed)) throw new InvalidArgumentError(`seed must be an integer, got ${seed}`);
  const head = options.head ?? {};
  const progress = options.onProgress ?? ((): void => undefined);
  const { labels, files } = await listLabelledImages(dir);
  const truthOf = files.map((f) => f.label);
  const foldOf = stratifiedFolds(truthOf, folds, seed);

  const backbone = options.backbone ?? (await loadBackbone({ log: progress }));
  const backboneSeconds = (Date.now() - started) / 1000;
  let features: Float32Array[][];
  const featuresStarted = Date.now();
  try {
    const images = await Promise.all(files.map((f) => fs.readFile(f.path)));
    let reported = 0;
    features = await extractFeatures(backbone, images, {
      augmentations: 1 + augment,
      seed,
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
      onProgress: (done, total) => {
        if (done === total || done - reported >= 100) {
          reported = done;
          progress(`features: ${done}/${total} views`);
        }
      },
    });
  } finally {
    if (!options.backbone) await backbone.session.release();
  }
  const featureSeconds = (Date.now() - featuresStarted) / 1000;

  const trainingStarted = Date.now();
  const C = labels.length;
  const pooledScores = new Float32Array(files.length * C);
  const perFold: FoldResult[] = [];
  for (let fold = 0; fold < folds; fold++) {
    const rows: Float32Array[] = [];
    const rowLabels: number[] = [];
    const groups: number[] = [];
    const testImages: number[] = [];
    files.forEach((_, image) => {
      if (foldOf[image] === fold) {
        testImages.push(image);
        return;
      }
      for (const view of features[image]!) {
        rows.push(view);
        rowLabels.push(truthOf[image]!);
        groups.push(image);
      }
    });
    const trained = await trainHead({ ...head, features: rows, labels: rowLabels, groups, classCount: C, seed: seed + fold });
    let correct = 0;
    for (const image of testImages) {
      // Plain view only, and the folded weights: exactly what the deployed head computes.
      const scores = softmax(features[image]![0]!, trained.weights, trained.bias, C);
      pooledScores.set(scores, image * C);
      let arg = 0;
      for (let c = 1; c < C; c++) if (scores[c]! > scores[arg]!) arg = c;
      if (arg === truthOf[image]) correct++;
    }
    const result = { fold: fold + 1, testCount: testImages.length, accuracy: correct / testImages.length, bestEpoch: trained.bestEpoch };
    perFold.push(result);
    progress(`fold ${result.fold}/${folds}: accuracy ${result.accuracy.toFixed(3)} on ${result.testCount} images (best epoch ${result.bestEpoch})`);
  }
  const accuracies = perFold.map((f) => f.accuracy);
  const mean = accuracies.reduce((a, v) => a + v, 0) / folds;
  const std = Math.sqrt(accuracies.reduce((a, v) => a + (v - mean) ** 2, 0) / (folds - 1));
  return {
    labels,
    imageCount: files.length,
    folds,
    augment,
    seed,
    head,
    perFold,
    meanAccuracy: mean,
    stdAccuracy: std,
    pooled: evaluateSingleLabel({ labels, truth: truthOf, scores: pooledScores, topK: [1, 2] }),
    seconds: { backbone: backboneSeconds, features: featureSeconds, training: (Date.now() - trainingStarted) / 1000, total: (Date.now() - started) / 1000 },
  };
}

function softmax(x: Float32Array, weights: Float32Array, bias: Float32Array, C: number): Float32Array {
  const logits = Float64Array.from(bias);
  for (let d = 0; d < x.length; d++) {
    const v = x[d]!;
    if (v === 0) continue;
    for (let c = 0; c < C; c++) logits[c]! += v * weights[d * C + c]!;
  }
  const max = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - max));
  const sum = e.reduce((a, v) => a + v, 0);
  return Float32Array.from(e, (v) => v / sum);
}

// Offline evaluation of the whole recipe (frozen backbone + linear head) on a folder DIR/<label>/<image>: stratified,
// seeded k-fold cross-validation. Features are extracted once (training views optionally augmented, test views
// always plain, as inference sees them); the head is trained per fold on the other folds.
// A multi-label folder (DIR/images/ and DIR/labels.csv, see labelsCsv.ts) gets the same with a sigmoid head and
// iteratively stratified folds.
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { IMAGES_FOLDER, isMultiLabelFolder, LABELS_CSV, readMultiLabelFolder } from '../dataset/labelsCsv';
import { InvalidArgumentError } from '../errors';
import { seededRandom } from '../util/seededRandom';
import type { AugmentationPolicy } from './augment';
import { BACKBONE_INPUT_SIZE, ensureBackboneModel, loadBackbone, withInputSize, type Backbone } from './backbone';
import { extractFeatures } from './features';
import { evaluateMultiLabel, evaluateSingleLabel, type LabelScores, type SingleLabelMetrics } from './metrics';
import { headProbabilities, trainHead, type TrainHeadOptions } from './trainHead';

/** What sharp decodes and the collectors store. */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp']);

export type HeadSettings = Pick<
  TrainHeadOptions,
  'epochs' | 'batchSize' | 'learningRate' | 'weightDecay' | 'weightDecayMode' | 'labelSmoothing' | 'validationShare' | 'patience' | 'refit' | 'standardize'
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
  /** ONNX Runtime providers for the backbone when this loads it (CPU is the fallback, with a warning); default ['cpu']. */
  executionProviders?: readonly string[];
  /** Input size of the built-in backbone when this loads it (a multiple of 32 from 128 to 512); default 224. */
  inputSize?: number;
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

/** What evaluateFolder returns: `task` says which layout the folder has, and so which head was evaluated. */
export type FolderEvaluation = SingleLabelFolderEvaluation | MultiLabelFolderEvaluation;

/** DIR/<label>/<image>: a softmax head, one label per image. */
export interface SingleLabelFolderEvaluation {
  task: 'single-label';
  labels: string[];
  imageCount: number;
  /** The backbone's input side. */
  inputSize: number;
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

export interface MultiLabelFoldResult {
  fold: number;
  testCount: number;
  /** Mean AP over the labels present among the fold's test images. */
  mAP: number;
  /** Share of test images whose whole label set the fold's head gets right at its threshold. */
  exactMatch: number;
  /** Share of right (image, label) decisions at the threshold: 1 − Hamming loss. */
  hammingAccuracy: number;
  /** The fold head's decision threshold, chosen on its own validation part (TrainedHead.threshold). */
  threshold: number;
  bestEpoch: number;
}

/** A label's pooled scores: AP of the pooled out-of-fold scores; precision, recall and F1 from the pooled decisions, each image decided at its fold's threshold. */
export type MultiLabelLabelScores = Omit<LabelScores, 'curve'>;

export interface MultiLabelPooled {
  count: number;
  mAP: number;
  exactMatch: number;
  hammingAccuracy: number;
  perLabel: MultiLabelLabelScores[];
  /** Unweighted means over the labels. */
  macro: { precision: number; recall: number; f1: number };
}

/** DIR/images/ + DIR/labels.csv: a sigmoid head, any number of labels per image. */
export interface MultiLabelFolderEvaluation {
  task: 'multi-label';
  labels: string[];
  imageCount: number;
  /** The backbone's input side. */
  inputSize: number;
  /** Entries of images/ without a row in labels.csv: left out. */
  unlisted: string[];
  folds: number;
  augment: number;
  seed: number;
  head: HeadSettings;
  perFold: MultiLabelFoldResult[];
  /** Mean of the fold mAPs and exact-match accuracies, with their sample standard deviations (n - 1). */
  meanMAP: number;
  stdMAP: number;
  meanExactMatch: number;
  stdExactMatch: number;
  /**
   * All out-of-fold predictions together (each image is tested exactly once). AP and mAP rank the pooled scores;
   * the decisions behind precision, recall, F1, exact match and Hamming accuracy are each fold head's own, at its
   * own threshold, as the deployed head would decide (not one threshold over all folds).
   */
  pooled: MultiLabelPooled;
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

/**
 * Fold index of each multi-label sample: iterative stratification (Sechidis, Tsoumakas & Vlahavas, 2011). Labels are
 * taken rarest first; each of a label's unassigned samples (in seeded order) goes to the fold that still wants that
 * label most, then the one that wants samples most, ties broken at random (seeded). Then, where a label with at least
 * `folds` samples is still missing from a fold, samples are swapped between folds (sizes unchanged) while that
 * leaves fewer (label, fold) pairs missing, so that such a label is tested in every fold whenever a swap allows.
 * Samples without labels are dealt to the folds that want samples most.
 */
export function multiLabelFolds(labelSets: readonly (readonly number[])[], folds: number, seed: number, labelNames?: readonly string[]): number[] {
  if (!Number.isInteger(folds) || folds < 2) throw new InvalidArgumentError(`folds must be an integer of at least 2, got ${folds}`);
  const C = Math.max(labelNames?.length ?? 0, ...labelSets.flatMap((set) => set.map((label) => label + 1)));
  const counts = new Array<number>(C).fill(0);
  for (const set of labelSets) for (const label of set) counts[label]! += 1;
  const present = counts.map((_, c) => c).filter((c) => counts[c]! > 0);
  if (present.length === 0) throw new InvalidArgumentError('no sample has a label: there is nothing to stratify');
  const smallest = present.reduce((a, c) => (counts[c]! < counts[a]! ? c : a));
  if (counts[smallest]! < folds) {
    const name = labelNames?.[smallest] !== undefined ? ` (${labelNames[smallest]})` : '';
    throw new InvalidArgumentError(`${folds} folds need at least ${folds} images per label; the smallest label${name} has ${counts[smallest]}`);
  }
  const random = seededRandom(seed);
  const order = labelSets.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  // What each fold still wants: samples, and samples of each label (fractions: n/k, count/k).
  const wantSamples = new Array<number>(folds).fill(labelSets.length / folds);
  const wantLabel = Array.from({ length: folds }, () => counts.map((n) => n / folds));
  const remaining = [...counts];
  const assignment = new Array<number>(labelSets.length).fill(-1);
  // Fold sizes stay within one of each other: floor(n/k) each, and n mod k folds one more.
  const size = new Array<number>(folds).fill(0);
  const small = Math.floor(labelSets.length / folds);
  let largeLeft = labelSets.length % folds;
  const assign = (sample: number, key: (fold: number) => number[]) => {
    let best: number[] = [];
    let bestKey: number[] = [];
    for (let fold = 0; fold < folds; fold++) {
      if (size[fold]! > small || (size[fold] === small && largeLeft === 0)) continue;
      const k = key(fold);
      const cmp = compareKeys(k, bestKey);
      if (best.length === 0 || cmp > 0) {
        best = [fold];
        bestKey = k;
      } else if (cmp === 0) best.push(fold);
    }
    const fold = best[Math.floor(random() * best.length)]!;
    assignment[sample] = fold;
    if (size[fold]! === small) largeLeft--;
    size[fold]! += 1;
    wantSamples[fold]! -= 1;
    for (const label of labelSets[sample]!) {
      wantLabel[fold]![label]! -= 1;
      remaining[label]! -= 1;
    }
  };
  for (;;) {
    let label = -1;
    for (let c = 0; c < C; c++) if (remaining[c]! > 0 && (label < 0 || remaining[c]! < remaining[label]!)) label = c;
    if (label < 0) break;
    for (const sample of order) {
      if (assignment[sample] === -1 && labelSets[sample]!.includes(label)) assign(sample, (fold) => [wantLabel[fold]![label]!, wantSamples[fold]!]);
    }
  }
  for (const sample of order) if (assignment[sample] === -1) assign(sample, (fold) => [wantSamples[fold]!]);

  // Repair: swap samples so that every label with >= folds samples is in every fold where possible.
  const inFold = Array.from({ length: folds }, () => new Array<number>(C).fill(0));
  labelSets.forEach((set, i) => set.forEach((label) => (inFold[assignment[i]!]![label]! += 1)));
  const eligible = present.filter((c) => counts[c]! >= folds);
  const missingIn = (fold: number) => eligible.filter((c) => inFold[fold]![c] === 0).length;
  const move = (sample: number, from: number, to: number) => {
    for (const label of labelSets[sample]!) {
      inFold[from]![label]! -= 1;
      inFold[to]![label]! += 1;
    }
    assignment[sample] = to;
  };
  repair: for (;;) {
    for (const label of eligible) {
      for (let fold = 0; fold < folds; fold++) {
        if (inFold[fold]![label] !== 0) continue;
        for (const x of order) {
          const donor = assignment[x]!;
          if (!labelSets[x]!.includes(label) || inFold[donor]![label]! < 2) continue;
          for (const y of order) {
            if (assignment[y] !== fold) continue;
            const before = missingIn(fold) + missingIn(donor);
            move(x, donor, fold);
            move(y, fold, donor);
            if (missingIn(fold) + missingIn(donor) < before) continue repair;
            move(y, donor, fold);
            move(x, fold, donor);
          }
        }
      }
    }
    break;
  }
  return assignment;
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - (b[i] ?? -Infinity);
  return 0;
}

export async function evaluateFolder(dir: string, options: EvaluateFolderOptions = {}): Promise<FolderEvaluation> {
  const started = Date.now();
  const folds = options.folds ?? 5;
  const augment = options.augment ?? 0;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(augment) || augment < 0 || augment > 32) throw new InvalidArgumentError(`augment must be an integer from 0 to 32 (extra views per training image), got ${augment}`);
  if (!Number.isInteger(seed)) throw new InvalidArgumentError(`seed must be an integer, got ${seed}`);
  if (await isMultiLabelFolder(dir)) return evaluateMultiLabelFolder(dir, started, options);
  const head = options.head ?? {};
  const progress = options.onProgress ?? ((): void => undefined);
  const { labels, files } = await listLabelledImages(dir);
  const truthOf = files.map((f) => f.label);
  const foldOf = stratifiedFolds(truthOf, folds, seed);

  const { features, inputSize, backboneSeconds, featureSeconds } = await featuresOf(files.map((f) => f.path), started, options);

  const trainingStarted = Date.now();
  const C = labels.length;
  const pooledScores = new Float32Array(files.length * C);
  const perFold: FoldResult[] = [];
  for (let fold = 0; fold < folds; fold++) {
    const { rows, targets, groups, testImages } = foldRows(features, foldOf, fold, truthOf);
    const trained = await trainHead({ ...head, features: rows, labels: targets, groups, classCount: C, seed: seed + fold });
    let correct = 0;
    for (const image of testImages) {
      // Plain view only, and the folded weights: exactly what the deployed head computes.
      const scores = headProbabilities(trained, features[image]![0]!);
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
    task: 'single-label',
    labels,
    imageCount: files.length,
    inputSize,
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

async function evaluateMultiLabelFolder(dir: string, started: number, options: EvaluateFolderOptions): Promise<MultiLabelFolderEvaluation> {
  const folds = options.folds ?? 5;
  const augment = options.augment ?? 0;
  const seed = options.seed ?? 0;
  const head = options.head ?? {};
  const progress = options.onProgress ?? ((): void => undefined);
  if (head.labelSmoothing !== undefined) {
    throw new InvalidArgumentError(`label smoothing applies to single-label folders (a softmax head); ${dir} has ${LABELS_CSV}, so it is evaluated as multi-label (a sigmoid head)`);
  }
  const { labels, files, unlisted } = await readMultiLabelFolder(dir);
  const C = labels.length;
  if (C < 2) throw new InvalidArgumentError(`${LABELS_CSV} needs at least two different labels to evaluate a classifier; it has ${C} (${labels.join(', ')})`);
  const index = new Map(labels.map((label, i) => [label, i]));
  const sets = files.map((f) => f.labels.map((label) => index.get(label)!).sort((a, b) => a - b));
  const foldOf = multiLabelFolds(sets, folds, seed, labels);
  if (unlisted.length > 0) {
    const shown = unlisted.slice(0, 5).map((name) => `${IMAGES_FOLDER}/${name}`).join(', ');
    progress(`left out ${unlisted.length} ${unlisted.length === 1 ? 'entry' : 'entries'} of ${IMAGES_FOLDER}/ that ${LABELS_CSV} does not list: ${shown}${unlisted.length > 5 ? ', ...' : ''}`);
  }

  const { features, inputSize, backboneSeconds, featureSeconds } = await featuresOf(files.map((f) => f.path), started, options);

  const trainingStarted = Date.now();
  const truth = sets.map((set) => labels.map((_, c) => (set.includes(c) ? 1 : 0)));
  const scores = new Array<number[]>(files.length);
  const thresholdOf = new Array<number>(files.length);
  const perFold: MultiLabelFoldResult[] = [];
  for (let fold = 0; fold < folds; fold++) {
    const { rows, targets, groups, testImages } = foldRows(features, foldOf, fold, sets);
    const trained = await trainHead({ ...head, features: rows, labelSets: targets, groups, classCount: C, seed: seed + fold });
    const threshold = trained.threshold ?? 0.5;
    for (const image of testImages) {
      // Plain view only, and the folded weights: exactly what the deployed head computes.
      scores[image] = headProbabilities(trained, features[image]![0]!);
      thresholdOf[image] = threshold;
    }
    const metrics = evaluateMultiLabel({ labels, truth: testImages.map((i) => truth[i]!), scores: testImages.map((i) => scores[i]!), threshold });
    const result: MultiLabelFoldResult = {
      fold: fold + 1,
      testCount: testImages.length,
      mAP: metrics.mAP ?? Number.NaN,
      exactMatch: metrics.zeroOneAccuracy,
      hammingAccuracy: metrics.hammingAccuracy,
      threshold,
      bestEpoch: trained.bestEpoch,
    };
    perFold.push(result);
    progress(`fold ${result.fold}/${folds}: mAP ${result.mAP.toFixed(3)}, exact match ${result.exactMatch.toFixed(3)} on ${result.testCount} images (threshold ${threshold.toFixed(2)}, best epoch ${result.bestEpoch})`);
  }

  // AP ranks the pooled scores (no threshold involved); decisions are each image's fold head's, at its threshold.
  const ranked = evaluateMultiLabel({ labels, truth, scores });
  const tp = new Array<number>(C).fill(0);
  const predicted = new Array<number>(C).fill(0);
  let rightCells = 0;
  let rightImages = 0;
  files.forEach((_, image) => {
    let all = true;
    for (let c = 0; c < C; c++) {
      const yes = scores[image]![c]! >= thresholdOf[image]!;
      if (yes) predicted[c]! += 1;
      if (yes && truth[image]![c] === 1) tp[c]! += 1;
      if (yes === (truth[image]![c] === 1)) rightCells++;
      else all = false;
    }
    if (all) rightImages++;
  });
  const perLabel: MultiLabelLabelScores[] = ranked.perLabel.map((scored, c) => {
    const precision = predicted[c]! > 0 ? tp[c]! / predicted[c]! : 0;
    const recall = scored.support > 0 ? tp[c]! / scored.support : 0;
    return { label: scored.label, support: scored.support, ap: scored.ap, precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
  });
  const meanOf = (values: number[]) => values.reduce((a, v) => a + v, 0) / values.length;
  const stdOf = (values: number[]) => {
    const mean = meanOf(values);
    return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
  };
  return {
    task: 'multi-label',
    labels,
    imageCount: files.length,
    inputSize,
    unlisted,
    folds,
    augment,
    seed,
    head,
    perFold,
    meanMAP: meanOf(perFold.map((f) => f.mAP)),
    stdMAP: stdOf(perFold.map((f) => f.mAP)),
    meanExactMatch: meanOf(perFold.map((f) => f.exactMatch)),
    stdExactMatch: stdOf(perFold.map((f) => f.exactMatch)),
    pooled: {
      count: files.length,
      mAP: ranked.mAP ?? Number.NaN,
      exactMatch: rightImages / files.length,
      hammingAccuracy: rightCells / (files.length * C),
      perLabel,
      macro: { precision: meanOf(perLabel.map((l) => l.precision)), recall: meanOf(perLabel.map((l) => l.recall)), f1: meanOf(perLabel.map((l) => l.f1)) },
    },
    seconds: { backbone: backboneSeconds, features: featureSeconds, training: (Date.now() - trainingStarted) / 1000, total: (Date.now() - started) / 1000 },
  };
}

/** Backbone features of each image (view 0 plain, then `augment` augmented views), and the time they took. */
async function featuresOf(paths: readonly string[], started: number, options: EvaluateFolderOptions): Promise<{ features: Float32Array[][]; inputSize: number; backboneSeconds: number; featureSeconds: number }> {
  const progress = options.onProgress ?? ((): void => undefined);
  const backbone =
    options.backbone ??
    (await loadBackbone({
      log: progress,
      model: withInputSize(await ensureBackboneModel({ log: progress }), options.inputSize ?? BACKBONE_INPUT_SIZE),
      ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
    }));
  const backboneSeconds = (Date.now() - started) / 1000;
  const featuresStarted = Date.now();
  try {
    const images = await Promise.all(paths.map((p) => fs.readFile(p)));
    let reported = 0;
    const features = await extractFeatures(backbone, images, {
      augmentations: 1 + (options.augment ?? 0),
      seed: options.seed ?? 0,
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.cacheDir !== undefined ? { cache: options.cacheDir } : {}),
      onProgress: (done, total) => {
        if (done === total || done - reported >= 100) {
          reported = done;
          progress(`features: ${done}/${total} views`);
        }
      },
    });
    return { features, inputSize: backbone.inputSize, backboneSeconds, featureSeconds: (Date.now() - featuresStarted) / 1000 };
  } finally {
    if (!options.backbone) await backbone.session.release();
  }
}

/** One fold's training rows (every view of every image outside the fold, grouped by image) and its test images. */
function foldRows<T>(features: readonly Float32Array[][], foldOf: readonly number[], fold: number, targetOf: readonly T[]): { rows: Float32Array[]; targets: T[]; groups: number[]; testImages: number[] } {
  const rows: Float32Array[] = [];
  const targets: T[] = [];
  const groups: number[] = [];
  const testImages: number[] = [];
  features.forEach((views, image) => {
    if (foldOf[image] === fold) {
      testImages.push(image);
      return;
    }
    for (const view of views) {
      rows.push(view);
      targets.push(targetOf[image]!);
      groups.push(image);
    }
  });
  return { rows, targets, groups, testImages };
}

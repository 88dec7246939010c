// Offline evaluation of what the trainer does (frozen backbone features, the recipe search, the logistic head) on a
// folder DIR/<label>/<image>: stratified, seeded k-fold cross-validation, the search running inside each fold's
// training part (nested CV). Features are extracted once per view set and cached; each held-out image is scored as
// the deployed model would score it (its plain view, or the mean with its mirror when the fold chose that).
// A multi-label folder (DIR/images/ and DIR/labels.csv, see labelsCsv.ts) gets the same with a sigmoid head and
// iteratively stratified folds (task.ts); the steps are the training job's own (pipeline.ts).
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { IMAGES_FOLDER, isMultiLabelFolder, LABELS_CSV, readMultiLabelFolder } from '../dataset/labelsCsv';
import { InvalidArgumentError } from '../errors';
import { resizeId } from '../image/preprocessing';
import type { AugmentationPolicy } from '../model/published';
import type { ModelTask } from '../model/registry';
import { type Backbone, BACKBONE_INPUT_SIZE, ensureBackboneModel, loadBackbone, withInputSize } from './backbone';
import { evaluateMultiLabel, evaluateSingleLabel, type LabelScores, type SingleLabelMetrics } from './metrics';
import { imageFeatures, trainRecipe } from './pipeline';
import { type CandidateReport, describeRecipe, type FeatureSource } from './recipe';
import { DEFAULT_AUGMENTED_VIEWS, type RecipeSearchOptions } from './recipeSearch';
import { MULTI_LABEL, SINGLE_LABEL, type TaskStrategy } from './task';

/** What `search` may restrict: the preprocessing candidates, mirror views, test-time mirroring, time, or one fixed candidate. */
export type RecipeRestrictions = Pick<
  RecipeSearchOptions,
  'resizes' | 'allowMirror' | 'allowTestTimeMirror' | 'budgetInMs' | 'fixed'
>;

/** What sharp decodes and the collectors store. */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp']);

export interface EvaluateFolderOptions {
  /** Default 5. */
  folds?: number;
  /** Augmented views per training image of the recipe search's richest candidate; default 2. */
  augment?: number;
  policy?: AugmentationPolicy;
  /** Seeds the folds, the augmented views and the head; default 0. */
  seed?: number;
  /** Restricts the recipe search's candidates (to evaluate one of them alone, say). */
  search?: RecipeRestrictions;
  /**
   * What trains in every fold: the trainer's own recipe search and head (nested cross-validation) by default, or
   * another trainer to compare with (bench:accuracy's previous head).
   */
  trainer?: FoldTrainer;
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
  /** What the fold's head was: the recipe it chose. */
  head: string;
  /** The recipe search's candidates with their inner-CV scores. */
  candidates?: CandidateReport[];
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
  /** The fold head's decision threshold, chosen inside its training part. */
  threshold: number;
  /** What the fold's head was: the recipe it chose. */
  head: string;
  candidates?: CandidateReport[];
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
  const labels = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const files: LabelledFiles['files'] = [];
  for (const [index, label] of labels.entries()) {
    const names = (await fs.readdir(path.join(dir, label)))
      .filter((name) => !name.startsWith('.') && IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase()))
      .sort();
    for (const name of names) files.push({ path: path.join(dir, label, name), label: index });
  }
  const used = labels.filter((_, i) => files.some((f) => f.label === i));
  if (used.length < 2)
    throw new InvalidArgumentError(
      `${dir} needs at least two label folders with images (DIR/<label>/<image>); found ${used.length}`,
    );
  if (used.length !== labels.length) {
    const empty = labels.filter((l) => !used.includes(l));
    throw new InvalidArgumentError(`label folders without images: ${empty.join(', ')}`);
  }
  return { labels, files };
}

export async function evaluateFolder(dir: string, options: EvaluateFolderOptions = {}): Promise<FolderEvaluation> {
  const started = Date.now();
  const folds = options.folds ?? 5;
  const augment = options.augment ?? DEFAULT_AUGMENTED_VIEWS;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(augment) || augment < 0 || augment > 32)
    throw new InvalidArgumentError(
      `augment must be an integer from 0 to 32 (extra views per training image), got ${augment}`,
    );
  if (!Number.isInteger(seed)) throw new InvalidArgumentError(`seed must be an integer, got ${seed}`);
  const progress = options.onProgress ?? ((): void => undefined);
  const folder = await readFolder(dir);
  const foldOf = folder.task.folds(folder.labelSets, folds, seed, folder.labels);
  const { unlisted } = folder;
  if (unlisted.length > 0) {
    const shown = unlisted
      .slice(0, 5)
      .map((name) => `${IMAGES_FOLDER}/${name}`)
      .join(', ');
    progress(
      `left out ${unlisted.length} ${unlisted.length === 1 ? 'entry' : 'entries'} of ${IMAGES_FOLDER}/ that ${LABELS_CSV} does not list: ${shown}${unlisted.length > 5 ? ', ...' : ''}`,
    );
  }
  const run = await crossValidate(folder, foldOf, started, { ...options, augment, seed });
  return REPORTS[folder.task.task](folder, run, { folds, augment, seed }, progress);
}

/** A folder's images with their label sets, and the task its layout asks for. */
export interface FolderImages {
  task: TaskStrategy;
  labels: string[];
  paths: string[];
  /** Indices into `labels` of each image's labels, ascending. */
  labelSets: number[][];
  /** Entries of images/ without a row in labels.csv: left out (none in the single-label layout). */
  unlisted: string[];
}

/** DIR/<label>/<image> (single-label), or DIR/images/ and DIR/labels.csv (multi-label). */
async function readFolder(dir: string): Promise<FolderImages> {
  if (!(await isMultiLabelFolder(dir))) {
    const { labels, files } = await listLabelledImages(dir);
    return {
      task: SINGLE_LABEL,
      labels,
      paths: files.map((f) => f.path),
      labelSets: files.map((f) => [f.label]),
      unlisted: [],
    };
  }
  const { labels, files, unlisted } = await readMultiLabelFolder(dir);
  const C = labels.length;
  if (C < 2)
    throw new InvalidArgumentError(
      `${LABELS_CSV} needs at least two different labels to evaluate a classifier; it has ${C} (${labels.join(', ')})`,
    );
  const index = new Map(labels.map((label, i) => [label, i]));
  const labelSets = files.map((f) => f.labels.map((label) => index.get(label)!).sort((a, b) => a - b));
  return { task: MULTI_LABEL, labels, paths: files.map((f) => f.path), labelSets, unlisted };
}

interface CrossValidation {
  /** Per fold, its held-out images' predictions. */
  predictions: FoldPrediction[];
  inputSize: number;
  seconds: { backbone: number; features: number; training: number; total: number };
}

interface ReportSettings {
  folds: number;
  augment: number;
  seed: number;
}

/** The figures of a cross-validation, in the shape of the folder's task. */
type Report = (
  folder: FolderImages,
  run: CrossValidation,
  settings: ReportSettings,
  progress: (message: string) => void,
) => FolderEvaluation;

/** Fold accuracies, and metrics of all out-of-fold predictions pooled. */
function singleLabelReport(
  folder: FolderImages,
  run: CrossValidation,
  settings: ReportSettings,
  progress: (message: string) => void,
): SingleLabelFolderEvaluation {
  const { labels } = folder;
  const { folds } = settings;
  const C = labels.length;
  const truthOf = folder.labelSets.map((set) => set[0]!);
  const pooledScores = new Float32Array(truthOf.length * C);
  const perFold: FoldResult[] = [];
  for (const [fold, predicted] of run.predictions.entries()) {
    predicted.testImages.forEach((image, i) => pooledScores.set(predicted.scores[i]!, image * C));
    const accuracy = folder.task.measure(
      predicted.testImages.map((image) => folder.labelSets[image]!),
      predicted.scores,
      C,
    );
    const result: FoldResult = {
      fold: fold + 1,
      testCount: predicted.testImages.length,
      accuracy,
      head: predicted.head,
      ...(predicted.candidates ? { candidates: predicted.candidates } : {}),
    };
    perFold.push(result);
    progress(
      `fold ${result.fold}/${folds}: accuracy ${result.accuracy.toFixed(3)} on ${result.testCount} images (${result.head})`,
    );
  }
  const accuracies = perFold.map((f) => f.accuracy);
  const mean = accuracies.reduce((a, v) => a + v, 0) / folds;
  const std = Math.sqrt(accuracies.reduce((a, v) => a + (v - mean) ** 2, 0) / (folds - 1));
  return {
    task: 'single-label',
    labels,
    imageCount: truthOf.length,
    inputSize: run.inputSize,
    ...settings,
    perFold,
    meanAccuracy: mean,
    stdAccuracy: std,
    pooled: evaluateSingleLabel({ labels, truth: truthOf, scores: pooledScores, topK: [1, 2] }),
    seconds: run.seconds,
  };
}

/** Fold mAPs and exact matches; AP of the pooled scores, and pooled decisions each at its fold head's threshold. */
function multiLabelReport(
  folder: FolderImages,
  run: CrossValidation,
  settings: ReportSettings,
  progress: (message: string) => void,
): MultiLabelFolderEvaluation {
  const { labels, unlisted } = folder;
  const { folds } = settings;
  const C = labels.length;
  const n = folder.paths.length;
  const truth = folder.labelSets.map((set) => labels.map((_, c) => (set.includes(c) ? 1 : 0)));
  const scores = new Array<number[]>(n);
  const thresholdOf = new Array<number>(n);
  const perFold: MultiLabelFoldResult[] = [];
  for (const [fold, predicted] of run.predictions.entries()) {
    const threshold = predicted.threshold ?? 0.5;
    const testImages = predicted.testImages;
    testImages.forEach((image, i) => {
      scores[image] = predicted.scores[i]!;
      thresholdOf[image] = threshold;
    });
    const metrics = evaluateMultiLabel({
      labels,
      truth: testImages.map((i) => truth[i]!),
      scores: testImages.map((i) => scores[i]!),
      threshold,
    });
    const result: MultiLabelFoldResult = {
      fold: fold + 1,
      testCount: testImages.length,
      mAP: metrics.mAP ?? Number.NaN,
      exactMatch: metrics.zeroOneAccuracy,
      hammingAccuracy: metrics.hammingAccuracy,
      threshold,
      head: predicted.head,
      ...(predicted.candidates ? { candidates: predicted.candidates } : {}),
    };
    perFold.push(result);
    progress(
      `fold ${result.fold}/${folds}: mAP ${result.mAP.toFixed(3)}, exact match ${result.exactMatch.toFixed(3)} on ${result.testCount} images (threshold ${threshold.toFixed(2)}, ${result.head})`,
    );
  }

  // AP ranks the pooled scores (no threshold involved); decisions are each image's fold head's, at its threshold.
  const ranked = evaluateMultiLabel({ labels, truth, scores });
  const tp = new Array<number>(C).fill(0);
  const predicted = new Array<number>(C).fill(0);
  let rightCells = 0;
  let rightImages = 0;
  for (let image = 0; image < n; image++) {
    let all = true;
    for (let c = 0; c < C; c++) {
      const yes = scores[image]![c]! >= thresholdOf[image]!;
      if (yes) predicted[c]! += 1;
      if (yes && truth[image]![c] === 1) tp[c]! += 1;
      if (yes === (truth[image]![c] === 1)) rightCells++;
      else all = false;
    }
    if (all) rightImages++;
  }
  const perLabel: MultiLabelLabelScores[] = ranked.perLabel.map((scored, c) => {
    const precision = predicted[c]! > 0 ? tp[c]! / predicted[c]! : 0;
    const recall = scored.support > 0 ? tp[c]! / scored.support : 0;
    return {
      label: scored.label,
      support: scored.support,
      ap: scored.ap,
      precision,
      recall,
      f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    };
  });
  const meanOf = (values: number[]) => values.reduce((a, v) => a + v, 0) / values.length;
  const stdOf = (values: number[]) => {
    const mean = meanOf(values);
    return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
  };
  return {
    task: 'multi-label',
    labels,
    imageCount: n,
    inputSize: run.inputSize,
    unlisted,
    ...settings,
    perFold,
    meanMAP: meanOf(perFold.map((f) => f.mAP)),
    stdMAP: stdOf(perFold.map((f) => f.mAP)),
    meanExactMatch: meanOf(perFold.map((f) => f.exactMatch)),
    stdExactMatch: stdOf(perFold.map((f) => f.exactMatch)),
    pooled: {
      count: n,
      mAP: ranked.mAP ?? Number.NaN,
      exactMatch: rightImages / n,
      hammingAccuracy: rightCells / (n * C),
      perLabel,
      macro: {
        precision: meanOf(perLabel.map((l) => l.precision)),
        recall: meanOf(perLabel.map((l) => l.recall)),
        f1: meanOf(perLabel.map((l) => l.f1)),
      },
    },
    seconds: run.seconds,
  };
}

const REPORTS: Readonly<Record<ModelTask, Report>> = {
  'single-label': singleLabelReport,
  'multi-label': multiLabelReport,
};

interface FolderFeatures {
  /** features[image][view] of every image of the folder for a view set (memoised). */
  views: FeatureSource;
  inputSize: number;
  /** Time so far: loading the backbone, extracting features, and the rest (training, search, scoring). */
  seconds(): CrossValidation['seconds'];
  release(): Promise<void>;
}

/** The folder's images behind a memoised, cached feature extractor; the backbone is loaded here unless given. */
async function featureSource(
  paths: readonly string[],
  started: number,
  options: EvaluateFolderOptions,
): Promise<FolderFeatures> {
  const progress = options.onProgress ?? ((): void => undefined);
  const backbone =
    options.backbone ??
    (await loadBackbone({
      log: progress,
      model: withInputSize(await ensureBackboneModel({ log: progress }), options.inputSize ?? BACKBONE_INPUT_SIZE),
      ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
    }));
  const backboneSeconds = (Date.now() - started) / 1000;
  const images = await Promise.all(paths.map((p) => fs.readFile(p)));
  const features = imageFeatures(backbone, images, {
    seed: options.seed ?? 0,
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.cacheDir !== undefined ? { cache: options.cacheDir } : {}),
    progressOf: (views) => {
      let reported = 0;
      return (done, total) => {
        if (done === total || done - reported >= 100) {
          reported = done;
          progress(`features (${resizeId(views.resize)}): ${done}/${total} views`);
        }
      };
    },
  });
  return {
    views: features.views,
    inputSize: backbone.inputSize,
    seconds: () => {
      const total = (Date.now() - started) / 1000;
      const extraction = features.extractionMs() / 1000;
      return { backbone: backboneSeconds, features: extraction, training: total - backboneSeconds - extraction, total };
    },
    release: async () => {
      if (!options.backbone) await backbone.session.release();
    },
  };
}

/** Every fold's predictions, with the backbone loaded (unless given) and released around them. */
async function crossValidate(
  folder: FolderImages,
  foldOf: readonly number[],
  started: number,
  options: EvaluateFolderOptions & { augment: number; seed: number },
): Promise<CrossValidation> {
  const source = await featureSource(folder.paths, started, options);
  const trainer = options.trainer ?? recipeTrainer(options.search);
  try {
    const predictions: FoldPrediction[] = [];
    const folds = Math.max(...foldOf) + 1;
    for (let fold = 0; fold < folds; fold++) {
      const trainImages = foldOf.map((f, i) => (f === fold ? -1 : i)).filter((i) => i >= 0);
      const testImages = foldOf.map((f, i) => (f === fold ? i : -1)).filter((i) => i >= 0);
      const outcome = await trainer({
        folder,
        views: source.views,
        trainImages,
        testImages,
        fold,
        seed: options.seed,
        augment: options.augment,
        ...(options.policy ? { policy: options.policy } : {}),
      });
      predictions.push({ ...outcome, testImages });
    }
    return { predictions, inputSize: source.inputSize, seconds: source.seconds() };
  } finally {
    await source.release();
  }
}

/** A fold's held-out images, scored by the head trained on the other folds. */
interface FoldPrediction extends FoldOutcome {
  testImages: number[];
}

/** What a fold's head gives: each held-out image's probabilities, as the deployed model computes them. */
export interface FoldOutcome {
  /** Probabilities of each test image, in the order of FoldTraining.testImages. */
  scores: number[][];
  /** Multi-label heads: the decision threshold, chosen inside the fold's training part. */
  threshold?: number;
  /** What the head was, in a few words. */
  head: string;
  candidates?: CandidateReport[];
}

/** What a fold's trainer gets: the folder, every image's features per view set, and the fold's two parts. */
export interface FoldTraining {
  folder: Pick<FolderImages, 'task' | 'labels' | 'labelSets'>;
  /** features[image][view] of every image of the folder (memoised, cached). */
  views: FeatureSource;
  trainImages: number[];
  testImages: number[];
  /** 0-based. */
  fold: number;
  seed: number;
  augment: number;
  policy?: AugmentationPolicy;
}

/** Trains on a fold's training images and scores its held-out ones. */
export type FoldTrainer = (fold: FoldTraining) => Promise<FoldOutcome>;

/** The trainer's own steps (pipeline.ts): the recipe search on the training images, the held-out ones scored. */
function recipeTrainer(search: RecipeRestrictions = {}): FoldTrainer {
  return async ({ folder, views, trainImages, testImages, fold, seed, augment, policy }) => {
    const subset =
      (images: readonly number[]): FeatureSource =>
      async (viewSet) => {
        const all = await views(viewSet);
        return images.map((image) => all[image]!);
      };
    const { search: result, heldOutScores } = await trainRecipe({
      ...search,
      labelSets: trainImages.map((image) => folder.labelSets[image]!),
      classCount: folder.labels.length,
      task: folder.task,
      features: subset(trainImages),
      heldOut: subset(testImages),
      augmentedViews: augment,
      ...(policy ? { allowMirror: policy.horizontalFlip } : {}),
      seed: seed * 100 + fold,
    });
    return {
      scores: heldOutScores,
      ...(result.head.threshold !== undefined ? { threshold: result.head.threshold } : {}),
      head: describeRecipe(result.recipe),
      candidates: result.candidates,
    };
  };
}

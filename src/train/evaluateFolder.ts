// Offline evaluation of what the trainer does (frozen backbone features, the recipe search, the logistic head) on a
// folder DIR/<label>/<image>: stratified, seeded k-fold cross-validation, the search running inside each fold's
// training part (nested CV). Features are extracted once per view set and cached; each held-out image is scored as
// the deployed model would score it (its plain view, or the mean with its mirror when the fold chose that).
// A multi-label folder (DIR/images/ and DIR/labels.csv, see labelsCsv.ts) gets the same with a sigmoid head and
// iteratively stratified folds.
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { IMAGES_FOLDER, isMultiLabelFolder, LABELS_CSV, readMultiLabelFolder } from '../dataset/labelsCsv';
import { InvalidArgumentError } from '../errors';
import type { AugmentationPolicy } from './augment';
import { BACKBONE_INPUT_SIZE, ensureBackboneModel, loadBackbone, withInputSize, type Backbone } from './backbone';
import { extractFeatures } from './features';
import { multiLabelFolds, stratifiedFolds } from './folds';
import type { HeadKind } from './headGraph';
import { evaluateMultiLabel, evaluateSingleLabel, type LabelScores, type SingleLabelMetrics } from './metrics';
import { resizeId, SQUASH } from './preprocessing';
import { describeRecipe, headInput, memoiseViews, searchRecipe, type CandidateReport, type RecipeSearchOptions, type ViewSet } from './recipe';
import { headProbabilities, trainHead, type TrainHeadOptions } from './trainHead';
import { argmax } from '../util/argmax';

/** What `search` may restrict: the preprocessing candidates, mirror views, test-time mirroring, time, or one fixed candidate. */
export type RecipeRestrictions = Pick<RecipeSearchOptions, 'resizes' | 'allowMirror' | 'allowTestTimeMirror' | 'budgetInMs' | 'fixed'>;

/** What sharp decodes and the collectors store. */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp']);

export type HeadSettings = Pick<
  TrainHeadOptions,
  'epochs' | 'batchSize' | 'learningRate' | 'weightDecay' | 'weightDecayMode' | 'labelSmoothing' | 'validationShare' | 'patience' | 'refit' | 'standardize'
>;

export interface EvaluateFolderOptions {
  /** Default 5. */
  folds?: number;
  /**
   * Augmented views per training image: for the recipe search, those of its richest candidate (default 2); for the
   * Adam head, its training views besides the plain one (default 0).
   */
  augment?: number;
  policy?: AugmentationPolicy;
  /** Seeds the folds, the augmented views and the head; default 0. */
  seed?: number;
  /**
   * 'recipe' (default): the trainer's own recipe search and logistic head in every fold (nested cross-validation).
   * 'adam': the previous trainer's head (minibatch Adam with early stopping, squashed views), for comparison.
   */
  solver?: 'recipe' | 'adam';
  /** Restricts the recipe search's candidates (to evaluate one of them alone, say). */
  search?: RecipeRestrictions;
  /** Settings of the Adam head. */
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
  /** What the fold's head was: the recipe it chose, or the Adam head's best epoch. */
  head: string;
  /** The recipe search's candidates with their inner-CV scores (solver 'recipe'). */
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
  solver: 'recipe' | 'adam';
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
  /** What the fold's head was: the recipe it chose, or the Adam head's best epoch. */
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
  solver: 'recipe' | 'adam';
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

export async function evaluateFolder(dir: string, options: EvaluateFolderOptions = {}): Promise<FolderEvaluation> {
  const started = Date.now();
  const folds = options.folds ?? 5;
  const augment = options.augment ?? 0;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(augment) || augment < 0 || augment > 32) throw new InvalidArgumentError(`augment must be an integer from 0 to 32 (extra views per training image), got ${augment}`);
  if (!Number.isInteger(seed)) throw new InvalidArgumentError(`seed must be an integer, got ${seed}`);
  if (await isMultiLabelFolder(dir)) return evaluateMultiLabelFolder(dir, started, options);
  const progress = options.onProgress ?? ((): void => undefined);
  const { labels, files } = await listLabelledImages(dir);
  const truthOf = files.map((f) => f.label);
  const foldOf = stratifiedFolds(truthOf, folds, seed);

  const C = labels.length;
  const { predictions, inputSize, seconds } = await crossValidate(files.map((f) => f.path), truthOf.map((label) => [label]), C, 'softmax', foldOf, started, options);
  const pooledScores = new Float32Array(files.length * C);
  const perFold: FoldResult[] = [];
  for (const [fold, predicted] of predictions.entries()) {
    let correct = 0;
    predicted.testImages.forEach((image, i) => {
      const scores = predicted.scores[i]!;
      pooledScores.set(scores, image * C);
      if (argmax(scores) === truthOf[image]) correct++;
    });
    const result: FoldResult = { fold: fold + 1, testCount: predicted.testImages.length, accuracy: correct / predicted.testImages.length, head: predicted.head, ...(predicted.candidates ? { candidates: predicted.candidates } : {}) };
    perFold.push(result);
    progress(`fold ${result.fold}/${folds}: accuracy ${result.accuracy.toFixed(3)} on ${result.testCount} images (${result.head})`);
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
    solver: options.solver ?? 'recipe',
    perFold,
    meanAccuracy: mean,
    stdAccuracy: std,
    pooled: evaluateSingleLabel({ labels, truth: truthOf, scores: pooledScores, topK: [1, 2] }),
    seconds,
  };
}

async function evaluateMultiLabelFolder(dir: string, started: number, options: EvaluateFolderOptions): Promise<MultiLabelFolderEvaluation> {
  const folds = options.folds ?? 5;
  const augment = options.augment ?? 0;
  const seed = options.seed ?? 0;
  const progress = options.onProgress ?? ((): void => undefined);
  if (options.head?.labelSmoothing !== undefined) {
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

  const { predictions, inputSize, seconds } = await crossValidate(files.map((f) => f.path), sets, C, 'sigmoid', foldOf, started, options);
  const truth = sets.map((set) => labels.map((_, c) => (set.includes(c) ? 1 : 0)));
  const scores = new Array<number[]>(files.length);
  const thresholdOf = new Array<number>(files.length);
  const perFold: MultiLabelFoldResult[] = [];
  for (const [fold, predicted] of predictions.entries()) {
    const threshold = predicted.threshold ?? 0.5;
    const testImages = predicted.testImages;
    testImages.forEach((image, i) => {
      scores[image] = predicted.scores[i]!;
      thresholdOf[image] = threshold;
    });
    const metrics = evaluateMultiLabel({ labels, truth: testImages.map((i) => truth[i]!), scores: testImages.map((i) => scores[i]!), threshold });
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
    progress(`fold ${result.fold}/${folds}: mAP ${result.mAP.toFixed(3)}, exact match ${result.exactMatch.toFixed(3)} on ${result.testCount} images (threshold ${threshold.toFixed(2)}, ${result.head})`);
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
    solver: options.solver ?? 'recipe',
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
    seconds,
  };
}

interface FolderFeatures {
  /** features[image][view] of every image of the folder for a view set (memoised). */
  views(views: ViewSet): Promise<Float32Array[][]>;
  inputSize: number;
  /** Time so far: loading the backbone, extracting features, and the rest (training, search, scoring). */
  seconds(): { backbone: number; features: number; training: number; total: number };
  release(): Promise<void>;
}

/** The folder's images behind a memoised, cached feature extractor; the backbone is loaded here unless given. */
async function featureSource(paths: readonly string[], started: number, options: EvaluateFolderOptions): Promise<FolderFeatures> {
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
  let featureMs = 0;
  const extract = async (views: ViewSet) => {
    const begin = Date.now();
    let reported = 0;
    try {
      return await extractFeatures(backbone, images, {
        resize: views.resize,
        mirror: views.mirror,
        augmentedViews: views.augmentedViews,
        seed: options.seed ?? 0,
        ...(options.policy ? { policy: options.policy } : {}),
        ...(options.cacheDir !== undefined ? { cache: options.cacheDir } : {}),
        onProgress: (done, total) => {
          if (done === total || done - reported >= 100) {
            reported = done;
            progress(`features (${resizeId(views.resize)}): ${done}/${total} views`);
          }
        },
      });
    } finally {
      featureMs += Date.now() - begin;
    }
  };
  return {
    views: memoiseViews(extract),
    inputSize: backbone.inputSize,
    seconds: () => {
      const total = (Date.now() - started) / 1000;
      return { backbone: backboneSeconds, features: featureMs / 1000, training: total - backboneSeconds - featureMs / 1000, total };
    },
    release: async () => {
      if (!options.backbone) await backbone.session.release();
    },
  };
}

/** Every fold's predictions, with the backbone loaded (unless given) and released around them. */
async function crossValidate(
  paths: readonly string[],
  labelSets: readonly (readonly number[])[],
  C: number,
  kind: HeadKind,
  foldOf: readonly number[],
  started: number,
  options: EvaluateFolderOptions,
): Promise<{ predictions: FoldPrediction[]; inputSize: number; seconds: ReturnType<FolderFeatures['seconds']> }> {
  const source = await featureSource(paths, started, options);
  try {
    const predictions: FoldPrediction[] = [];
    const folds = Math.max(...foldOf) + 1;
    for (let fold = 0; fold < folds; fold++) predictions.push(await predictFold(source, labelSets, C, kind, foldOf, fold, options));
    return { predictions, inputSize: source.inputSize, seconds: source.seconds() };
  } finally {
    await source.release();
  }
}

interface FoldPrediction {
  testImages: number[];
  /** Probabilities of each test image, as the deployed model computes them. */
  scores: number[][];
  threshold?: number;
  head: string;
  candidates?: CandidateReport[];
}

/** Trains on every fold but one (the trainer's recipe search, or the Adam head) and scores the held-out fold. */
async function predictFold(
  source: FolderFeatures,
  labelSets: readonly (readonly number[])[],
  C: number,
  kind: HeadKind,
  foldOf: readonly number[],
  fold: number,
  options: EvaluateFolderOptions,
): Promise<FoldPrediction> {
  const seed = options.seed ?? 0;
  const trainImages = foldOf.map((f, i) => (f === fold ? -1 : i)).filter((i) => i >= 0);
  const testImages = foldOf.map((f, i) => (f === fold ? i : -1)).filter((i) => i >= 0);
  if (options.solver === 'adam') {
    const features = await source.views({ resize: SQUASH, mirror: false, augmentedViews: options.augment ?? 0 });
    const rows: Float32Array[] = [];
    const groups: number[] = [];
    const targets: (readonly number[])[] = [];
    for (const image of trainImages) {
      for (const view of features[image]!) {
        rows.push(view);
        groups.push(image);
        targets.push(labelSets[image]!);
      }
    }
    const labels = kind === 'softmax' ? { labels: targets.map((set) => set[0]!) } : { labelSets: targets };
    const trained = await trainHead({ ...options.head, features: rows, ...labels, groups, classCount: C, seed: seed + fold });
    return {
      testImages,
      scores: testImages.map((image) => headProbabilities(trained, features[image]![0]!)),
      ...(trained.threshold !== undefined ? { threshold: trained.threshold } : {}),
      head: `Adam head, best epoch ${trained.bestEpoch}`,
    };
  }
  const search = await searchRecipe({
    ...options.search,
    labelSets: trainImages.map((image) => labelSets[image]!),
    classCount: C,
    kind,
    features: async (views) => {
      const all = await source.views(views);
      return trainImages.map((image) => all[image]!);
    },
    ...(options.augment !== undefined ? { augmentedViews: options.augment } : {}),
    ...(options.policy ? { allowMirror: options.policy.horizontalFlip } : {}),
    seed: seed * 100 + fold,
  });
  const { recipe, head } = search;
  const all = await source.views({ resize: recipe.resize, mirror: recipe.testTimeMirror, augmentedViews: 0 });
  return {
    testImages,
    scores: testImages.map((image) => headProbabilities(head, headInput(all[image]!, recipe.testTimeMirror))),
    ...(head.threshold !== undefined ? { threshold: head.threshold } : {}),
    head: describeRecipe(recipe),
    candidates: search.candidates,
  };
}


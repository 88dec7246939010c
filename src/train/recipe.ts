// What a recipe is: the preprocessing, the training views, test-time mirroring and the L2 strength of the logistic
// head on frozen backbone features, and the head fitted with it (what the fused model and icf eval apply). The
// search that chooses a recipe is recipeSearch.ts, over the candidates of candidates/.
import { ProgrammingError } from '../errors';
import { resizeId, type ViewResize } from '../image/preprocessing';
import type { HeadKind } from './headGraph';
import { type LogisticParameters, LogisticSolver } from './logistic';
import { type HeldOutScore, taskOfHead, type TaskStrategy } from './task';

/** Which views of each image a candidate trains on (view 0 plain, then the mirror view, then augmented views). */
export interface ViewSet {
  resize: ViewResize;
  mirror: boolean;
  augmentedViews: number;
}

/** Gives features[image][view] of the training images for a view set, in that order (extracting what is missing). */
export type FeatureSource = (views: ViewSet) => Promise<Float32Array[][]>;

export interface Recipe extends ViewSet {
  /** Average the features of the plain and the mirrored view before the head, in training's scoring and in the model. */
  testTimeMirror: boolean;
  /**
   * L2 strength per class, relative: λ_c = strength_c × mean ‖x‖² / images, so that it means the same whatever the
   * features' scale and however many images (like scikit-learn's C, inverted). One value repeated for softmax heads.
   */
  strength: number[];
}

export interface CandidateReport {
  /** e.g. "centre-crop-0.875, plain + mirror views, mirror at test time". */
  name: string;
  recipe: Recipe;
  /** Inner-CV accuracy (single-label) or mAP (multi-label) of the out-of-fold predictions. */
  score: number;
  /** Inner-CV mean cross-entropy (single-label) or binary cross-entropy per label (multi-label). */
  loss: number;
  /** Seconds its training by inner CV took; 0 for a test-time-mirrored variant, which shares its candidate's. */
  seconds: number;
  chosen: boolean;
}

export interface TrainedRecipeHead {
  kind: HeadKind;
  /** [D,C] row-major, applied to raw features (averaged over plain and mirror when recipe.testTimeMirror). */
  weights: Float32Array;
  bias: Float32Array;
  featureCount: number;
  classCount: number;
  /** Multi-label heads: the threshold that gets the most out-of-fold label sets right (0.5 unless another is strictly better). */
  threshold?: number;
}

/** L-BFGS iterations of a fit, and whether it converged. */
export interface FitSummary {
  iterations: number;
  converged: boolean;
}

/** Relative strengths tried, strongest first (half-decade steps from 1e-1 to 1e-6): see Recipe.strength. */
export const STRENGTH_GRID: readonly number[] = Array.from({ length: 11 }, (_, i) => 10 ** (-1 - 0.5 * i));
/** Used when the training split is too small to cross-validate. */
export const DEFAULT_STRENGTH = 10 ** -2.5;

/** Fits the recipe's head on all training images (its views as rows), from `initial` when given. */
export async function fitRecipe(
  solver: LogisticSolver,
  features: readonly Float32Array[][],
  labelSets: readonly (readonly number[])[],
  recipe: Recipe,
  initial?: LogisticParameters,
): Promise<{ head: TrainedRecipeHead; fit: FitSummary }> {
  const C = solver.classCount;
  const images = features.map((_, i) => i);
  const task = taskOfHead(solver.kind);
  const data = buildRows(
    features,
    images,
    trainingViews(recipe),
    labelSets.map((set) => targetRow(set, C, task)),
  );
  const l2 = l2For(recipe.strength, data.meanSquaredNorm, images.length);
  const fit = await solver.fit(data, { l2, ...(initial ? { initial } : {}) });
  return {
    head: { kind: solver.kind, weights: fit.weights, bias: fit.bias, featureCount: solver.featureCount, classCount: C },
    fit: { iterations: fit.iterations, converged: fit.converged },
  };
}

/** Indices of a recipe's training views in features[image] (plain, mirror, augmented). */
export function trainingViews(views: ViewSet): number[] {
  return Array.from({ length: 1 + (views.mirror ? 1 : 0) + views.augmentedViews }, (_, v) => v);
}

/** The feature vector the head sees for an image: its plain view, or the mean of plain and mirror views. */
export function headInput(views: readonly Float32Array[], testTimeMirror: boolean): Float32Array {
  if (!testTimeMirror) return views[0]!;
  const plain = views[0]!;
  const mirror = views[1];
  if (!mirror) throw new ProgrammingError('test-time mirroring needs the mirror view (view 1)');
  const out = new Float32Array(plain.length);
  // (a + b) / 2 in float32, as the fused model's ReduceMean computes it.
  for (let d = 0; d < plain.length; d++) out[d] = Math.fround(Math.fround(plain[d]! + mirror[d]!) / 2);
  return out;
}

/**
 * The head's probabilities for one feature vector in plain numbers: softmax(x·W + b), or the sigmoid of each logit
 * for a multi-label head. What the fused model computes, in double precision, for evaluation in JavaScript.
 */
export function headProbabilities(
  head: Pick<TrainedRecipeHead, 'kind' | 'weights' | 'bias' | 'classCount'>,
  x: Float32Array,
): number[] {
  const C = head.classCount;
  const logits = Float64Array.from(head.bias);
  for (let d = 0; d < x.length; d++) {
    const v = x[d]!;
    if (v === 0) continue; // pooled ReLU features are often exactly zero
    for (let c = 0; c < C; c++) logits[c]! += v * head.weights[d * C + c]!;
  }
  return taskOfHead(head.kind).probabilities(logits);
}

/** A key naming a view set, for memoising its extraction. */
export function viewSetKey(views: ViewSet): string {
  return `${resizeId(views.resize)}/${views.mirror ? 'mirror' : 'plain'}/${views.augmentedViews}`;
}

/** One extraction per distinct view set: the search, the test split and the learning curve ask for views more than once. */
export function memoiseViews<T>(extract: (views: ViewSet) => Promise<T>): (views: ViewSet) => Promise<T> {
  const calls = new Map<string, Promise<T>>();
  return (views) => {
    const key = viewSetKey(views);
    let result = calls.get(key);
    if (!result) calls.set(key, (result = extract(views)));
    return result;
  };
}

/** "plain + mirror + 2 augmented views". */
export function describeViews(views: ViewSet): string {
  return `plain${views.mirror ? ' + mirror' : ''}${views.augmentedViews > 0 ? ` + ${views.augmentedViews} augmented` : ''} views`;
}

/** A recipe without its strength, as candidates are named: "squash, plain + mirror views, mirror at test time". */
export function describeViewRecipe(recipe: Omit<Recipe, 'strength'>): string {
  return `${resizeId(recipe.resize)}, ${describeViews(recipe)}${recipe.testTimeMirror ? ', mirror at test time' : ''}`;
}

/** A short description of a recipe, for logs and reports. */
export function describeRecipe(recipe: Recipe): string {
  return `${describeViewRecipe(recipe)}, L2 strength ${describeStrengths(recipe.strength)}`;
}

/** The distinct strengths, as "1.0e-2/3.2e-3". */
export function describeStrengths(strength: readonly number[]): string {
  return [...new Set(strength.map((s) => s.toExponential(1)))].join('/');
}

/**
 * Whether `challenger` beats `incumbent` by more than chance: on the same held-out images, its mean per-image gain
 * (right answers; multi-label: lower cross-entropy, with a higher mAP too) exceeds one standard error of the paired
 * differences. Small inner-CV differences between candidates are mostly noise on a few hundred images, and a
 * choice made on noise is worse than the textbook default it replaces.
 */
export function beatsClearly(
  challenger: Pick<HeldOutScore, 'score' | 'perImage'>,
  incumbent: Pick<HeldOutScore, 'score' | 'perImage'>,
): boolean {
  if (!(challenger.score > incumbent.score)) return false;
  const n = challenger.perImage.length;
  if (n !== incumbent.perImage.length || n < 2) return false;
  const differences = challenger.perImage.map((v, i) => v - incumbent.perImage[i]!);
  const mean = differences.reduce((a, b) => a + b, 0) / n;
  const variance = differences.reduce((a, d) => a + (d - mean) ** 2, 0) / (n - 1);
  return mean > 0 && mean > Math.sqrt(variance / n);
}

/** Rows of the given images' views, with their targets and the mean squared feature norm. */
export function buildRows(
  features: readonly Float32Array[][],
  images: readonly number[],
  viewIndices: readonly number[],
  truth: readonly Float32Array[],
): { x: Float32Array; y: Float32Array; rows: number; meanSquaredNorm: number } {
  const D = features[images[0] ?? 0]![0]!.length;
  const C = truth[0]!.length;
  const rows = images.length * viewIndices.length;
  const x = new Float32Array(rows * D);
  const y = new Float32Array(rows * C);
  let r = 0;
  let squared = 0;
  for (const image of images) {
    for (const v of viewIndices) {
      const row = features[image]![v];
      if (!row) throw new ProgrammingError(`image ${image} has no view ${v}`);
      x.set(row, r * D);
      for (let d = 0; d < D; d++) squared += row[d]! * row[d]!;
      y.set(truth[image]!, r * C);
      r++;
    }
  }
  return { x, y, rows, meanSquaredNorm: rows > 0 ? squared / rows : 1 };
}

/** λ_c = strength_c × mean ‖x‖² / images: see Recipe.strength. */
export function l2For(strength: readonly number[], meanSquaredNorm: number, images: number): Float32Array {
  return Float32Array.from(strength, (s) => (s * meanSquaredNorm) / Math.max(1, images));
}

/** The 0/1 target row of an image with these labels (its first alone for a softmax head). */
export function targetRow(set: readonly number[], C: number, task: TaskStrategy): Float32Array {
  const row = new Float32Array(C);
  for (const label of task.trainedLabels(set)) row[label] = 1;
  return row;
}

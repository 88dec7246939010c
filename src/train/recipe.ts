// The recipe search: which preprocessing, training views, test-time augmentation and L2 strength the head gets,
// chosen by cross-validation inside the training split alone (the test split stays for the reported figure).
// Every candidate is an L2-regularised logistic regression on frozen backbone features (logistic.ts) whose
// strength is chosen on a log grid by the same inner folds (warm-started from strong to weak); multi-label heads
// choose one strength per label. The search is staged so that views are only extracted when a stage needs them:
//   1. preprocessing: centre crop against squash, on plain views;
//   2. training views, with the chosen preprocessing: plain + mirror, plain + mirror + augmented views;
//   and, for every candidate whose held-out images have mirror features, test-time augmentation (the mean of the
//   plain and mirrored view's features, which doubles the serving work).
// The textbook candidate (the first preprocessing, plain views) is the incumbent; a candidate replaces the incumbent
// only when it beats it by more than one standard error of the paired per-image differences (beatsClearly), so that
// noise does not choose. A time budget skips the stages that would overrun it, and says so.
import { InvalidArgumentError } from '../errors';
import { CENTRE_CROP, resizeId, SQUASH, type ViewResize } from '../image/preprocessing';
import type { HeadKind } from './headGraph';
import { type LogisticParameters, LogisticSolver } from './logistic';
import { type HeldOutScore, scoresHigher, taskOfHead, type TaskStrategy } from './task';

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
  /** Seconds its strength path took (test-time variants share their training candidate's). */
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

export interface RecipeSearchResult {
  recipe: Recipe;
  head: TrainedRecipeHead;
  candidates: CandidateReport[];
  /** What the search did not try, and why (time, too few images, the policy). */
  skipped: string[];
  innerFolds: number;
  /** L-BFGS iterations of the final fit, and whether it converged. */
  finalFit: { iterations: number; converged: boolean };
  seconds: number;
}

export interface RecipeSearchOptions {
  /** Label indices of each training image (one for single-label data). */
  labelSets: readonly (readonly number[])[];
  classCount: number;
  kind: HeadKind;
  features: FeatureSource;
  /** Augmented views of the richest candidate; default 2. */
  augmentedViews?: number;
  /** Whether mirror views are allowed (the augmentation policy's horizontalFlip); default true. */
  allowMirror?: boolean;
  /** Whether test-time mirroring may be chosen; default true. */
  allowTestTimeMirror?: boolean;
  /** One candidate alone (only its strength is searched): to measure a candidate, or to reuse a known recipe. */
  fixed?: Omit<Recipe, 'strength'>;
  /** Preprocessing candidates; default [CENTRE_CROP, SQUASH]. The first is used when the search cannot run. */
  resizes?: readonly ViewResize[];
  /** Inner folds; default 5 (fewer when a label has fewer images). */
  folds?: number;
  seed?: number;
  /** Stages that would end past this are skipped; default 300 000. */
  budgetInMs?: number;
  /** Estimated milliseconds for the backbone to render one view, for the budget; default measured on the first extraction. */
  msPerView?: number;
  log?: (message: string) => void;
}

/** Relative strengths tried, strongest first (half-decade steps from 1e-1 to 1e-6): see Recipe.strength. */
export const STRENGTH_GRID: readonly number[] = Array.from({ length: 11 }, (_, i) => 10 ** (-1 - 0.5 * i));
/** Used when the training split is too small to cross-validate. */
export const DEFAULT_STRENGTH = 10 ** -2.5;
/** Strengths past the best one tried before the path stops. */
const PATIENCE = 3;

/** Runs the staged search and fits the chosen recipe's head on the whole training split. */
export async function searchRecipe(options: RecipeSearchOptions): Promise<RecipeSearchResult> {
  const started = Date.now();
  const { labelSets, classCount: C, kind } = options;
  const task = taskOfHead(kind);
  const log = options.log ?? ((): void => undefined);
  const budget = options.budgetInMs ?? 300_000;
  const allowMirror = options.allowMirror ?? true;
  const augmentedViews = options.augmentedViews ?? 2;
  const resizes = options.resizes ?? [CENTRE_CROP, SQUASH];
  if (resizes.length === 0) throw new InvalidArgumentError('resizes must name at least one preprocessing');
  const n = labelSets.length;
  const truth = labelSets.map((set) => targetRow(set, C, task));
  const folds = innerFolds(labelSets, C, task, options.folds ?? 5, options.seed ?? 0);
  const skipped: string[] = [];
  const candidates: CandidateReport[] = [];
  let msPerView = options.msPerView;
  const timedFeatures = async (views: ViewSet, newViews: number) => {
    const begin = Date.now();
    const features = await options.features(views);
    if (msPerView === undefined && newViews > 0) msPerView = (Date.now() - begin) / newViews;
    return features;
  };
  let solver: LogisticSolver | undefined;
  const solverFor = async (features: Float32Array[][]) =>
    (solver ??= await LogisticSolver.create(features[0]![0]!.length, C, kind));
  try {
    if (!folds) {
      skipped.push(
        `the search: the smallest label has fewer than 2 training images, so nothing can be cross-validated; used ${resizeId(resizes[0]!)}, the plain view and strength ${DEFAULT_STRENGTH}`,
      );
      const recipe: Recipe = {
        resize: resizes[0]!,
        mirror: false,
        augmentedViews: 0,
        testTimeMirror: false,
        strength: new Array<number>(C).fill(DEFAULT_STRENGTH),
      };
      const features = await timedFeatures(recipe, n);
      const fit = await fitRecipe(await solverFor(features), features, labelSets, recipe);
      return {
        recipe,
        head: fit.head,
        candidates,
        skipped,
        innerFolds: 0,
        finalFit: fit.fit,
        seconds: (Date.now() - started) / 1000,
      };
    }
    const k = Math.max(...folds) + 1;
    log(`recipe search: ${k} inner folds over ${n} training images`);
    // The chosen recipe's final fit on every training image, from the average of its fold models, and the result.
    const finish = async (recipe: Recipe, features: Float32Array[][], path: StrengthPath) => {
      const fit = await fitRecipe(
        await solverFor(features),
        features,
        labelSets,
        recipe,
        averageAt(path, recipe.strength),
      );
      setThreshold(fit.head, path, { features, truth, folds, task }, recipe);
      return {
        recipe,
        head: fit.head,
        candidates,
        skipped,
        innerFolds: k,
        finalFit: fit.fit,
        seconds: (Date.now() - started) / 1000,
      };
    };

    if (options.fixed) {
      const fixed = options.fixed;
      if (fixed.testTimeMirror && !fixed.mirror)
        throw new InvalidArgumentError('a fixed recipe with testTimeMirror needs mirror views (mirror: true)');
      const features = await timedFeatures(fixed, n);
      const path = await strengthPath(await solverFor(features), features, trainingViews(fixed), truth, folds, k, task);
      const best = fixed.testTimeMirror ? bestStrengths(path, { features, truth, folds, task }, true) : path.best;
      const recipe: Recipe = { ...fixed, strength: best.strength };
      candidates.push({
        name: describeRecipe(recipe).replace(/, L2 strength .*$/, ''),
        recipe,
        score: best.score,
        loss: best.loss,
        seconds: (Date.now() - started) / 1000,
        chosen: true,
      });
      return await finish(recipe, features, path); // awaited: the solver is released in finally
    }

    interface Evaluated {
      report: CandidateReport;
      scores: HeldOutScore;
      path: StrengthPath;
      features: Float32Array[][];
      viewIndices: number[];
    }
    const allowTestTimeMirror = allowMirror && (options.allowTestTimeMirror ?? true);
    const push = (entry: Evaluated) => {
      log(
        `recipe search: ${entry.report.name}: ${formatScore(task, entry.report)}${entry.report.seconds > 0 ? ` (${entry.report.seconds.toFixed(1)} s)` : ''}`,
      );
      candidates.push(entry.report);
      return entry;
    };
    /** A training candidate (its strength path), and its test-time-mirrored variant when allowed. */
    const evaluate = async (
      name: string,
      views: ViewSet,
      features: Float32Array[][],
      viewIndices: number[],
    ): Promise<{ plain: Evaluated; mirrored?: Evaluated }> => {
      const begin = Date.now();
      const path = await strengthPath(await solverFor(features), features, viewIndices, truth, folds, k, task);
      const plain = push({
        report: {
          name,
          recipe: { ...views, testTimeMirror: false, strength: path.best.strength },
          score: path.best.score,
          loss: path.best.loss,
          seconds: (Date.now() - begin) / 1000,
          chosen: false,
        },
        scores: path.best,
        path,
        features,
        viewIndices,
      });
      if (!allowTestTimeMirror || features[0]!.length < 2) return { plain };
      const scored = bestStrengths(path, { features, truth, folds, task }, true);
      const mirrored = push({
        report: {
          name: `${name}, mirror at test time`,
          recipe: { ...views, testTimeMirror: true, strength: scored.strength },
          score: scored.score,
          loss: scored.loss,
          seconds: 0,
          chosen: false,
        },
        scores: scored,
        path,
        features,
        viewIndices,
      });
      return { plain, mirrored };
    };
    // Test-time mirroring doubles the serving work: it must beat its own training candidate clearly.
    const worthIt = (pair: { plain: Evaluated; mirrored?: Evaluated }) =>
      pair.mirrored && beatsClearly(pair.mirrored.scores, pair.plain.scores) ? pair.mirrored : pair.plain;
    const mirrorViews = allowMirror ? ' + mirror' : '';
    if (!allowMirror)
      skipped.push('mirror views and test-time mirroring: the augmentation policy has horizontalFlip off');

    // Stage 1: the preprocessing, each with plain (and mirror) views: the cheapest stand-in for a full recipe.
    let stageOneSeconds = 0;
    const stageOne: Evaluated[] = [];
    for (const [i, resize] of resizes.entries()) {
      const views: ViewSet = { resize, mirror: allowMirror, augmentedViews: 0 };
      const perImage = allowMirror ? 2 : 1;
      if (i > 0) {
        const estimate = n * perImage * (msPerView ?? 0) + stageOneSeconds * 1000;
        if (Date.now() - started + estimate > budget) {
          skipped.push(
            `${resizeId(resize)}: its views and strength path (about ${(estimate / 1000).toFixed(0)} s) would overrun the ${(budget / 1000).toFixed(0)} s budget`,
          );
          continue;
        }
      }
      const begin = Date.now();
      const features = await timedFeatures(views, n * perImage);
      stageOne.push(
        worthIt(
          await evaluate(`${resizeId(resize)}, plain${mirrorViews} views`, views, features, allowMirror ? [0, 1] : [0]),
        ),
      );
      if (i === 0) stageOneSeconds = (Date.now() - begin) / 1000;
    }
    // The best; on a tie, the first (the textbook centre crop).
    let winner = stageOne.reduce((best, candidate) => (scoresHigher(candidate.report, best.report) ? candidate : best));
    const resize = winner.report.recipe.resize;

    // Stage 2, with that preprocessing: plain views alone (cheaper to train), and augmented views on top.
    const stageTwo: Evaluated[] = [winner];
    if (allowMirror) {
      const plainOnly = stageOne.find((e) => e.report.recipe.resize === resize)!;
      stageTwo.push(
        (
          await evaluate(
            `${resizeId(resize)}, plain views`,
            { resize, mirror: false, augmentedViews: 0 },
            plainOnly.features,
            [0],
          )
        ).plain,
      );
    }
    if (augmentedViews > 0) {
      const views: ViewSet = { resize, mirror: allowMirror, augmentedViews };
      const newViews = n * augmentedViews;
      // A strength path costs about its rows: stage 1's took stageOneSeconds on (1 or 2) views per image.
      const estimate =
        newViews * (msPerView ?? 0) +
        ((1 + (allowMirror ? 1 : 0) + augmentedViews) / (allowMirror ? 2 : 1)) * stageOneSeconds * 1000;
      if (Date.now() - started + estimate > budget) {
        skipped.push(
          `${augmentedViews} augmented views: extracting them and their strength path (about ${(estimate / 1000).toFixed(0)} s) would overrun the ${(budget / 1000).toFixed(0)} s budget`,
        );
      } else {
        const all = await timedFeatures(views, newViews);
        stageTwo.push(
          worthIt(
            await evaluate(
              `${resizeId(resize)}, plain${mirrorViews} + ${augmentedViews} augmented views`,
              views,
              all,
              trainingViews(views),
            ),
          ),
        );
      }
    }
    // The best score wins; on a tie, the cheaper candidate (listed first).
    const cost = (e: Evaluated) => e.viewIndices.length + (e.report.recipe.testTimeMirror ? 0.5 : 0);
    winner = stageTwo.reduce((best, candidate) =>
      scoresHigher(candidate.report, best.report) ||
      (!scoresHigher(best.report, candidate.report) && cost(candidate) < cost(best))
        ? candidate
        : best,
    );
    winner.report.chosen = true;
    const recipe = winner.report.recipe;
    log(
      `recipe search: chose ${winner.report.name}, strength ${recipe.strength
        .map((s) => s.toExponential(1))
        .filter((s, i, a) => a.indexOf(s) === i)
        .join('/')}`,
    );
    return await finish(recipe, winner.features, winner.path);
  } finally {
    await solver?.release();
  }
}

/** Fits the recipe's head on all training images (its views as rows), from `initial` when given. */
export async function fitRecipe(
  solver: LogisticSolver,
  features: readonly Float32Array[][],
  labelSets: readonly (readonly number[])[],
  recipe: Recipe,
  initial?: LogisticParameters,
): Promise<{ head: TrainedRecipeHead; fit: { iterations: number; converged: boolean } }> {
  const C = solver.classCount;
  const viewIndices = trainingViews(recipe);
  const images = features.map((_, i) => i);
  const data = buildRows(
    features,
    images,
    viewIndices,
    labelSets.map((set) => targetRow(set, C, taskOfHead(solver.kind))),
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
  if (!mirror) throw new Error('test-time mirroring needs the mirror view (view 1)');
  const out = new Float32Array(plain.length);
  // (a + b) / 2 in float32, as the fused model's ReduceMean computes it.
  for (let d = 0; d < plain.length; d++) out[d] = Math.fround(Math.fround(plain[d]! + mirror[d]!) / 2);
  return out;
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

/** A short description of a recipe, for logs and reports. */
export function describeRecipe(recipe: Recipe): string {
  const views = `plain${recipe.mirror ? ' + mirror' : ''}${recipe.augmentedViews > 0 ? ` + ${recipe.augmentedViews} augmented` : ''} views`;
  const strengths = [...new Set(recipe.strength.map((s) => s.toExponential(1)))];
  return `${resizeId(recipe.resize)}, ${views}${recipe.testTimeMirror ? ', mirror at test time' : ''}, L2 strength ${strengths.join('/')}`;
}

/** What out-of-fold scoring needs: every training image's views, targets and fold, and the task. */
interface HeldOut {
  features: readonly Float32Array[][];
  truth: readonly Float32Array[];
  folds: readonly number[];
  task: TaskStrategy;
}

interface PathPoint {
  strength: number;
  /** [fold] parameters fitted on the other folds. */
  models: LogisticParameters[];
}

interface StrengthPath {
  strengths: number[];
  points: PathPoint[];
  /** Best strength (per class for sigmoid heads) with its out-of-fold scores on plain views. */
  best: HeldOutScore & { strength: number[] };
}

/**
 * Cross-validates the head along the strength grid, strongest first, each fold warm-started from its previous
 * solution; stops PATIENCE strengths after the best one (per label for sigmoid heads).
 */
async function strengthPath(
  solver: LogisticSolver,
  features: readonly Float32Array[][],
  viewIndices: readonly number[],
  truth: readonly Float32Array[],
  folds: readonly number[],
  k: number,
  task: TaskStrategy,
): Promise<StrengthPath> {
  const C = solver.classCount;
  const foldData = Array.from({ length: k }, (_, fold) => {
    const images = folds.map((f, i) => (f === fold ? -1 : i)).filter((i) => i >= 0);
    return { data: buildRows(features, images, viewIndices, truth), images: images.length };
  });
  const points: PathPoint[] = [];
  const strengths: number[] = [];
  const scores: HeldOutScore[] = [];
  let previous: LogisticParameters[] | undefined;
  for (const strength of STRENGTH_GRID) {
    const models: LogisticParameters[] = [];
    for (let fold = 0; fold < k; fold++) {
      const { data, images } = foldData[fold]!;
      const fit = await solver.fit(data, {
        l2: l2For(new Array<number>(C).fill(strength), data.meanSquaredNorm, images),
        ...(previous ? { initial: previous[fold]! } : {}),
      });
      models.push({ weights: fit.weights, bias: fit.bias });
    }
    previous = models;
    points.push({ strength, models });
    strengths.push(strength);
    scores.push(
      scoreAt(
        { strengths, points },
        { features, truth, folds, task },
        false,
        new Array<number>(C).fill(points.length - 1),
      ),
    );
    // Stop once every class's best strength so far lies PATIENCE strengths back.
    const last = points.length - 1;
    if (task.strengthPoints(scores, C).every((point) => last - point >= PATIENCE)) break;
  }
  const path = { strengths, points };
  const chosen = bestStrengths(path, { features, truth, folds, task }, false);
  return { ...path, best: chosen };
}

/** The best strength(s) of a path and their score, scoring held-out images on plain views or with test-time mirroring. */
function bestStrengths(
  path: Pick<StrengthPath, 'strengths' | 'points'>,
  heldOut: HeldOut,
  testTimeMirror: boolean,
): HeldOutScore & { strength: number[] } {
  const { truth, task } = heldOut;
  const C = truth[0]!.length;
  const scores = path.points.map((_, p) => scoreAt(path, heldOut, testTimeMirror, new Array<number>(C).fill(p)));
  const indices = task.strengthPoints(scores, C);
  const combined = scoreAt(path, heldOut, testTimeMirror, indices);
  return { ...combined, strength: indices.map((p) => path.strengths[p]!) };
}

/** Sets the head's decision threshold (multi-label heads) from the out-of-fold predictions at the recipe's strengths. */
function setThreshold(head: TrainedRecipeHead, path: StrengthPath, heldOut: HeldOut, recipe: Recipe): void {
  const oof = oofProbabilities(path, heldOut, recipe.testTimeMirror, pointsOf(path, recipe.strength));
  const threshold = heldOut.task.decisionThreshold({ truth: heldOut.truth.map((row) => Array.from(row)), scores: oof });
  if (threshold !== undefined) head.threshold = threshold;
}

/** The path point of each class's strength. */
function pointsOf(path: Pick<StrengthPath, 'strengths'>, strengths: readonly number[]): number[] {
  return strengths.map((s) => path.strengths.indexOf(s));
}

/** Out-of-fold probabilities of every image, each class c from the fold models of path point `pointOf[c]`. */
function oofProbabilities(
  path: Pick<StrengthPath, 'strengths' | 'points'>,
  heldOut: HeldOut,
  testTimeMirror: boolean,
  pointOf: readonly number[],
): number[][] {
  const { features, folds, task } = heldOut;
  return features.map((views, image) => {
    const x = headInput(views, testTimeMirror);
    const fold = folds[image]!;
    const C = pointOf.length;
    const logits = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const model = path.points[pointOf[c]!]!.models[fold]!;
      let z = model.bias[c]!;
      for (let d = 0; d < x.length; d++) z += x[d]! * model.weights[d * C + c]!;
      logits[c] = z;
    }
    return task.probabilities(logits);
  });
}

function scoreAt(
  path: Pick<StrengthPath, 'strengths' | 'points'>,
  heldOut: HeldOut,
  testTimeMirror: boolean,
  indices: readonly number[],
): HeldOutScore {
  return heldOut.task.scoreHeldOut(oofProbabilities(path, heldOut, testTimeMirror, indices), heldOut.truth);
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

/** The mean of the fold models at each class's strength: a warm start for the final fit. */
function averageAt(path: StrengthPath, strengths: readonly number[]): LogisticParameters {
  const first = path.points[0]!.models[0]!;
  const C = first.bias.length;
  const D = first.weights.length / C;
  const weights = new Float32Array(D * C);
  const bias = new Float32Array(C);
  const pointOf = pointsOf(path, strengths);
  for (let c = 0; c < C; c++) {
    const point = path.points[pointOf[c]!]!;
    const k = point.models.length;
    for (const model of point.models) {
      bias[c]! += model.bias[c]! / k;
      for (let d = 0; d < D; d++) weights[d * C + c]! += model.weights[d * C + c]! / k;
    }
  }
  return { weights, bias };
}

/** Rows of the given images' views, with their targets and the mean squared feature norm. */
function buildRows(
  features: readonly Float32Array[][],
  images: readonly number[],
  viewIndices: readonly number[],
  truth: readonly Float32Array[],
) {
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
      if (!row) throw new Error(`image ${image} has no view ${v}`);
      x.set(row, r * D);
      for (let d = 0; d < D; d++) squared += row[d]! * row[d]!;
      y.set(truth[image]!, r * C);
      r++;
    }
  }
  return { x, y, rows, meanSquaredNorm: rows > 0 ? squared / rows : 1 };
}

/** λ_c = strength_c × mean ‖x‖² / images: see Recipe.strength. */
function l2For(strength: readonly number[], meanSquaredNorm: number, images: number): Float32Array {
  return Float32Array.from(strength, (s) => (s * meanSquaredNorm) / Math.max(1, images));
}

function targetRow(set: readonly number[], C: number, task: TaskStrategy): Float32Array {
  const row = new Float32Array(C);
  for (const label of task.trainedLabels(set)) row[label] = 1;
  return row;
}

/** Inner folds over the images, or undefined when a label has fewer than 2 images. */
function innerFolds(
  labelSets: readonly (readonly number[])[],
  C: number,
  task: TaskStrategy,
  wanted: number,
  seed: number,
): number[] | undefined {
  const counts = new Array<number>(C).fill(0);
  for (const set of labelSets) for (const label of task.trainedLabels(set)) counts[label]! += 1;
  const smallest = Math.min(...counts.filter((count) => count > 0));
  const k = Math.min(wanted, smallest);
  if (k < 2) return undefined;
  return task.folds(labelSets, k, seed);
}

function formatScore(task: TaskStrategy, report: CandidateReport): string {
  const strengths = [...new Set(report.recipe.strength.map((s) => s.toExponential(1)))].join('/');
  return `${task.metric} ${(report.score * 100).toFixed(1)}%, loss ${report.loss.toFixed(4)}, strength ${strengths}`;
}

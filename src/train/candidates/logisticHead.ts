// The logistic head as a candidate strategy: an L2-regularised logistic regression on frozen backbone features
// (logistic.ts), its strength chosen on a log grid by the inner folds, strongest first, each fold warm-started from
// its previous solution (multi-label heads choose one strength per label). Scored out of fold on plain views and
// with test-time mirroring; the chosen recipe's final fit starts from the mean of its fold models.
import { type LogisticParameters, LogisticSolver } from '../logistic';
import { buildRows, fitRecipe, headInput, l2For, type Recipe, STRENGTH_GRID, type TrainedRecipeHead } from '../recipe';
import type { HeldOutScore, TaskStrategy } from '../task';
import type { CandidateStrategy, CrossValidated, InnerFolds, ScoredStrengths, TrainingImages } from './candidate';

/** Strengths past the best one tried before the path stops. */
const PATIENCE = 3;

export const LOGISTIC_HEAD: CandidateStrategy = {
  async open(featureCount, images) {
    const solver = await LogisticSolver.create(featureCount, images.classCount, images.kind);
    return {
      crossValidate: (features, viewIndices, folds) => crossValidate(solver, images, features, viewIndices, folds),
      fit: (features, recipe) => fitRecipe(solver, features, images.labelSets, recipe),
      release: () => solver.release(),
    };
  },
};

async function crossValidate(
  solver: LogisticSolver,
  images: TrainingImages,
  features: Float32Array[][],
  viewIndices: readonly number[],
  { folds, k }: InnerFolds,
): Promise<CrossValidated> {
  const heldOut: HeldOut = { features, truth: images.truth, folds, task: images.task };
  const path = await strengthPath(solver, heldOut, viewIndices, k);
  return {
    plain: path.best,
    mirrored: () => bestStrengths(path, heldOut, true),
    async fit(recipe) {
      const fit = await fitRecipe(solver, features, images.labelSets, recipe, averageAt(path, recipe.strength));
      setThreshold(fit.head, path, heldOut, recipe);
      return fit;
    },
  };
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
  best: ScoredStrengths;
}

/**
 * Cross-validates the head along the strength grid, strongest first, each fold warm-started from its previous
 * solution; stops PATIENCE strengths after the best one (per label for sigmoid heads).
 */
async function strengthPath(
  solver: LogisticSolver,
  heldOut: HeldOut,
  viewIndices: readonly number[],
  k: number,
): Promise<StrengthPath> {
  const { features, truth, folds, task } = heldOut;
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
    scores.push(scoreAt({ strengths, points }, heldOut, false, new Array<number>(C).fill(points.length - 1)));
    // Stop once every class's best strength so far lies PATIENCE strengths back.
    const last = points.length - 1;
    if (task.strengthPoints(scores, C).every((point) => last - point >= PATIENCE)) break;
  }
  const path = { strengths, points };
  return { ...path, best: bestStrengths(path, heldOut, false) };
}

/** The best strength(s) of a path and their score, scoring held-out images on plain views or with test-time mirroring. */
function bestStrengths(
  path: Pick<StrengthPath, 'strengths' | 'points'>,
  heldOut: HeldOut,
  testTimeMirror: boolean,
): ScoredStrengths {
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

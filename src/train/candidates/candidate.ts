// What a candidate of the recipe search is, as a value: the preprocessing it is tried with, the views it trains on
// (and extracts), and the strategy that trains and scores it by inner cross-validation. The search
// (recipeSearch.ts) evaluates every candidate of the list in index.ts the same way: one budget check, one report.
import type { ViewResize } from '../../image/preprocessing';
import type { HeadKind } from '../headGraph';
import type { FitSummary, Recipe, TrainedRecipeHead, ViewSet } from '../recipe';
import type { HeldOutScore, TaskStrategy } from '../task';

/** The search's settings a candidate's views depend on. */
export interface CandidateSettings {
  /** Whether mirror views are allowed (the augmentation policy's horizontalFlip). */
  allowMirror: boolean;
  /** Augmented views of the richest candidate. */
  augmentedViews: number;
}

export interface Candidate {
  /**
   * Which preprocessing it is tried with: each of the search's preprocessings in turn, that of the best candidate
   * evaluated before it (so that later candidates refine the winner instead of multiplying the work), or a given one.
   */
  preprocessing: 'each' | 'best' | ViewResize;
  /** The views its head trains on; undefined when the settings leave nothing new to try (it would repeat another). */
  views(resize: ViewResize, settings: CandidateSettings): ViewSet | undefined;
  /**
   * The views to extract when they are more than it trains on: a candidate trained on plain views still takes the
   * mirror views, to be scored with test-time mirroring. Default: its training views.
   */
  extract?(resize: ViewResize, settings: CandidateSettings): ViewSet;
  /**
   * Forces test-time mirroring on or off: only that variant is scored, reported and may be chosen. Default: when the
   * search allows it and the mirror view is extracted, both are scored and reported, and the mirrored variant (which
   * doubles the serving work) may be chosen only for a head trained with mirror views that it beats clearly.
   */
  testTimeMirror?: boolean;
  strategy: CandidateStrategy;
}

/** What every candidate learns from: the training images' labels and targets. */
export interface TrainingImages {
  /** Label indices of each training image. */
  labelSets: readonly (readonly number[])[];
  classCount: number;
  kind: HeadKind;
  task: TaskStrategy;
  /** The 0/1 target row of each training image. */
  truth: readonly Float32Array[];
}

/** The inner folds every candidate is cross-validated on. */
export interface InnerFolds {
  /** Inner fold of each training image, 0..k-1 (views of one image stay in its fold). */
  folds: readonly number[];
  k: number;
}

/** Out-of-fold scores at the strength(s) that scored best. */
export type ScoredStrengths = HeldOutScore & { strength: number[] };

/** A candidate trained by inner cross-validation: its scores, and how to fit the head once it is chosen. */
export interface CrossValidated {
  /** Held-out images seen on their plain view, as a model without test-time mirroring sees them. */
  plain: ScoredStrengths;
  /** Held-out images seen as the mean of their plain and mirror views' features (needs the mirror view). */
  mirrored(): ScoredStrengths;
  /** The chosen recipe's head on every training image (its decision threshold, for multi-label heads, out of fold). */
  fit(recipe: Recipe): Promise<{ head: TrainedRecipeHead; fit: FitSummary }>;
}

/** How a candidate's head is trained and scored: the logistic head (logisticHead.ts), or another kind of training. */
export interface CandidateStrategy {
  /** Appended to the names of its candidates; none for the logistic head, the default. */
  readonly label?: string;
  /** What its fits share (an ONNX Runtime session) for features of this length: opened once a search, released after. */
  open(featureCount: number, images: TrainingImages): Promise<OpenedStrategy>;
}

export interface OpenedStrategy {
  /** Trains on `viewIndices` of each image's features, inside the inner folds. */
  crossValidate(features: Float32Array[][], viewIndices: readonly number[], folds: InnerFolds): Promise<CrossValidated>;
  /** The recipe's head on every image without cross-validation (too few images to hold any out). */
  fit(features: Float32Array[][], recipe: Recipe): Promise<{ head: TrainedRecipeHead; fit: FitSummary }>;
  release(): Promise<void>;
}

// The steps the training job (trainer.ts) and `icf eval` (evaluateFolder.ts) share, so that what is evaluated
// offline is what the job trains: backbone features of a set of images per view set (extracted once, cached), the
// recipe search and final fit on training images, and scoring images as the deployed model scores them (the
// recipe's preprocessing, its test-time mirroring, the head's softmax or sigmoid).
import type { AugmentationPolicy } from '../model/published';
import type { FeatureCache } from './featureCache';
import { extractFeatures, type FeatureBackbone } from './features';
import {
  type FeatureSource,
  headInput,
  headProbabilities,
  memoiseViews,
  type Recipe,
  type TrainedRecipeHead,
  type ViewSet,
} from './recipe';
import { type RecipeSearchOptions, type RecipeSearchResult, searchRecipe } from './recipeSearch';
import type { TaskStrategy } from './task';

export interface ImageFeaturesOptions {
  /** Seed of the augmented views. */
  seed: number;
  /** Augmentation policy of the augmented views; default as extractFeatures. */
  policy?: AugmentationPolicy;
  /** Where features are cached; default as extractFeatures. */
  cache?: FeatureCache | string | false;
  /** Progress of one view set's extraction: called as extractFeatures reports (first with the views found cached). */
  progressOf?: (views: ViewSet) => (done: number, total: number) => void;
}

export interface ImageFeatures {
  /** features[image][view] of every image for a view set, extracted once per view set. */
  views: FeatureSource;
  /** Milliseconds spent extracting so far. */
  extractionMs(): number;
}

/** The images behind a memoised feature extractor of the backbone. */
export function imageFeatures(
  backbone: FeatureBackbone,
  images: readonly Buffer[],
  options: ImageFeaturesOptions,
): ImageFeatures {
  let extractionMs = 0;
  const extract = async (views: ViewSet) => {
    const begin = Date.now();
    const onProgress = options.progressOf?.(views);
    try {
      return await extractFeatures(backbone, images, {
        resize: views.resize,
        mirror: views.mirror,
        augmentedViews: views.augmentedViews,
        seed: options.seed,
        ...(options.policy ? { policy: options.policy } : {}),
        ...(options.cache !== undefined ? { cache: options.cache } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
    } finally {
      extractionMs += Date.now() - begin;
    }
  };
  return { views: memoiseViews(extract), extractionMs: () => extractionMs };
}

/** The views of an image the deployed model looks at: the plain one, and its mirror when the recipe mirrors at test time. */
export function servingViews(recipe: Recipe): ViewSet {
  return { resize: recipe.resize, mirror: recipe.testTimeMirror, augmentedViews: 0 };
}

/** What the head sees of each image (see servingViews), from `features` of every image for servingViews(recipe). */
export function servingInputs(features: readonly Float32Array[][], recipe: Recipe): Float32Array[] {
  return features.map((views) => headInput(views, recipe.testTimeMirror));
}

/** Each input's probabilities, as the fused model computes them. */
export function scoreInputs(
  head: Pick<TrainedRecipeHead, 'kind' | 'weights' | 'bias' | 'classCount'>,
  inputs: readonly Float32Array[],
): number[][] {
  return inputs.map((x) => headProbabilities(head, x));
}

export type RecipeTrainingOptions = Omit<RecipeSearchOptions, 'kind'> & {
  task: TaskStrategy;
  /** Features of the held-out images (each view set over those images only), scored by the fitted head. */
  heldOut: FeatureSource;
};

export interface RecipeTraining {
  search: RecipeSearchResult;
  /** The head's input for each held-out image (servingInputs). */
  heldOutInputs: Float32Array[];
  /** The head's probabilities for each held-out image. */
  heldOutScores: number[][];
}

/**
 * Searches the recipe on the training images, fits its head on all of them, and scores the held-out images as the
 * deployed model would: the job's test split, or a fold of `icf eval`.
 */
export async function trainRecipe(options: RecipeTrainingOptions): Promise<RecipeTraining> {
  const { task, heldOut, ...search } = options;
  const result = await searchRecipe({ ...search, kind: task.head });
  const heldOutInputs = servingInputs(await heldOut(servingViews(result.recipe)), result.recipe);
  return { search: result, heldOutInputs, heldOutScores: scoreInputs(result.head, heldOutInputs) };
}

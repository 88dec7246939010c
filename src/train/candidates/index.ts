// The candidates of the recipe search, in the order they are tried. Each is a value (candidate.ts): the
// preprocessing it is tried with, its views and the strategy that trains it; the search (recipeSearch.ts) gives
// every one the same budget check and report, and chooses among all of them by one rule. A new candidate is one
// entry here and, when it trains differently, one strategy file beside logisticHead.ts.
//   1. each preprocessing on plain + mirror views: the cheapest stand-in for a full recipe, to pick the preprocessing;
//   2. the winner's preprocessing on plain views alone (cheaper to train);
//   3. the winner's preprocessing on plain + mirror + augmented views.
// Every one is also scored with test-time mirroring when its mirror views are extracted.
import type { Recipe } from '../recipe';
import type { Candidate } from './candidate';
import { LOGISTIC_HEAD } from './logisticHead';

export type { Candidate, CandidateSettings, CandidateStrategy } from './candidate';

export const CANDIDATES: readonly Candidate[] = [
  {
    preprocessing: 'each',
    views: (resize, { allowMirror }) => ({ resize, mirror: allowMirror, augmentedViews: 0 }),
    strategy: LOGISTIC_HEAD,
  },
  {
    preprocessing: 'best',
    // Without mirror views this is the first candidate again.
    views: (resize, { allowMirror }) => (allowMirror ? { resize, mirror: false, augmentedViews: 0 } : undefined),
    extract: (resize) => ({ resize, mirror: true, augmentedViews: 0 }),
    strategy: LOGISTIC_HEAD,
  },
  {
    preprocessing: 'best',
    views: (resize, { allowMirror, augmentedViews }) =>
      augmentedViews > 0 ? { resize, mirror: allowMirror, augmentedViews } : undefined,
    strategy: LOGISTIC_HEAD,
  },
];

/** One known recipe as the only candidate (its strength still chosen by the inner folds). */
export function fixedCandidate(recipe: Omit<Recipe, 'strength'>): Candidate {
  const { resize, mirror, augmentedViews, testTimeMirror } = recipe;
  return {
    preprocessing: resize,
    views: () => ({ resize, mirror, augmentedViews }),
    testTimeMirror,
    strategy: LOGISTIC_HEAD,
  };
}

// The recipe search: which preprocessing, training views, test-time mirroring and L2 strength the head gets,
// chosen by cross-validation inside the training split alone (the test split stays for the reported figure). One
// evaluator over the list of candidates (candidates/index.ts), each tried in turn the same way:
//   - its preprocessing: each of the search's, or that of the best candidate so far, so that views are only
//     extracted when a candidate needs them;
//   - the budget, in one place (Budget): the first candidate always runs and is the yardstick; a later one is
//     skipped, and named, when its new views and training would end past the budget;
//   - its training by inner CV (its strategy), scored on plain views and, when the mirror view is there, with
//     test-time mirroring (the mean of the plain and mirrored view's features, which doubles the serving work: it
//     is chosen only for a head trained with mirror views that it beats clearly, see beatsClearly);
//   - one report per variant (CandidateReport), logged as it comes.
// The best inner-CV score wins (then the lower loss, the earlier preprocessing, the cheaper candidate), and its head
// is fitted on the whole training split.
import { ProgrammingError } from '../errors';
import { CENTRE_CROP, resizeId, SQUASH, type ViewResize } from '../image/preprocessing';
import {
  type Candidate,
  CANDIDATES,
  type CandidateSettings,
  type CandidateStrategy,
  fixedCandidate,
} from './candidates';
import type {
  CrossValidated,
  InnerFolds,
  OpenedStrategy,
  ScoredStrengths,
  TrainingImages,
} from './candidates/candidate';
import type { HeadKind } from './headGraph';
import {
  beatsClearly,
  type CandidateReport,
  DEFAULT_STRENGTH,
  describeStrengths,
  describeViewRecipe,
  type FeatureSource,
  type FitSummary,
  memoiseViews,
  type Recipe,
  targetRow,
  type TrainedRecipeHead,
  trainingViews,
  type ViewSet,
} from './recipe';
import { scoresHigher, taskOfHead } from './task';

export interface RecipeSearchResult {
  recipe: Recipe;
  head: TrainedRecipeHead;
  candidates: CandidateReport[];
  /** What the search did not try, and why (time, too few images, the policy). */
  skipped: string[];
  innerFolds: number;
  /** L-BFGS iterations of the final fit, and whether it converged. */
  finalFit: FitSummary;
  seconds: number;
}

/** Augmented views of the richest candidate unless told otherwise. */
export const DEFAULT_AUGMENTED_VIEWS = 2;

/** Where the search is, for a progress report: a candidate about to be tried (or skipped), or the final fit. */
export interface SearchStep {
  /** "search: squash, plain + mirror views (2/4)", or "training" for the final fit. */
  stage: string;
  /** Candidates before this step (0-based); `count` at the final fit. */
  index: number;
  /** Candidates the search plans to try. */
  count: number;
}

export interface RecipeSearchOptions {
  /** Label indices of each training image (one for single-label data). */
  labelSets: readonly (readonly number[])[];
  classCount: number;
  kind: HeadKind;
  features: FeatureSource;
  /** Augmented views of the richest candidate; default DEFAULT_AUGMENTED_VIEWS. */
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
  /** Candidates that would end past this are skipped; default 300 000. */
  budgetInMs?: number;
  /** Estimated milliseconds for the backbone to render one view, for the budget; default measured on the first extraction. */
  msPerView?: number;
  log?: (message: string) => void;
  /** Called before each candidate is tried or skipped, and before the final fit. */
  onStep?: (step: SearchStep) => void;
}

/** Runs the search over the candidates and fits the chosen recipe's head on the whole training split. */
export async function searchRecipe(options: RecipeSearchOptions): Promise<RecipeSearchResult> {
  const search = new Search(options);
  try {
    const folds = innerFolds(search.images, options.folds ?? 5, options.seed ?? 0);
    if (!folds) return await fitWithoutSearch(search);
    search.log(`recipe search: ${folds.k} inner folds over ${search.images.labelSets.length} training images`);
    const plan = options.fixed ? [fixedCandidate(options.fixed)] : CANDIDATES;
    if (!options.fixed && !search.settings.allowMirror)
      search.skipped.push('mirror views and test-time mirroring: the augmentation policy has horizontalFlip off');
    const count = plannedRuns(plan, search.settings);
    const evaluated = await evaluateCandidates(search, plan, folds, count);
    const winner = best(evaluated)!;
    winner.report.chosen = true;
    const recipe = winner.report.recipe;
    search.log(`recipe search: chose ${winner.report.name}, strength ${describeStrengths(recipe.strength)}`);
    options.onStep?.({ stage: 'training', index: count, count });
    return search.result(recipe, await winner.trained.fit(recipe), folds.k);
  } finally {
    await search.release();
  }
}

interface SearchSettings extends CandidateSettings {
  resizes: readonly ViewResize[];
  allowTestTimeMirror: boolean;
  budgetInMs: number;
}

/** One run of the search: its settings, the training images, the views extracted so far, and what it reports. */
class Search {
  readonly started = Date.now();
  readonly settings: SearchSettings;
  readonly images: TrainingImages;
  readonly views: ViewLedger;
  readonly candidates: CandidateReport[] = [];
  readonly skipped: string[] = [];
  readonly log: (message: string) => void;
  private readonly sessions = new Map<CandidateStrategy, Promise<OpenedStrategy>>();

  constructor(readonly options: RecipeSearchOptions) {
    const resizes = options.resizes ?? [CENTRE_CROP, SQUASH];
    if (resizes.length === 0) throw new ProgrammingError('resizes must name at least one preprocessing');
    if (options.fixed?.testTimeMirror && !options.fixed.mirror)
      throw new ProgrammingError('a fixed recipe with testTimeMirror needs mirror views (mirror: true)');
    const allowMirror = options.allowMirror ?? true;
    this.settings = {
      resizes,
      allowMirror,
      allowTestTimeMirror: allowMirror && (options.allowTestTimeMirror ?? true),
      augmentedViews: options.augmentedViews ?? DEFAULT_AUGMENTED_VIEWS,
      budgetInMs: options.budgetInMs ?? 300_000,
    };
    const task = taskOfHead(options.kind);
    const C = options.classCount;
    this.images = {
      labelSets: options.labelSets,
      classCount: C,
      kind: options.kind,
      task,
      truth: options.labelSets.map((set) => targetRow(set, C, task)),
    };
    this.views = new ViewLedger(options.features, options.labelSets.length, options.msPerView);
    this.log = options.log ?? ((): void => undefined);
  }

  /** The strategy's shared state (its ONNX session), opened on its first candidate; released by release(). */
  session(strategy: CandidateStrategy, features: Float32Array[][]): Promise<OpenedStrategy> {
    let session = this.sessions.get(strategy);
    if (!session) {
      session = strategy.open(features[0]![0]!.length, this.images);
      this.sessions.set(strategy, session);
    }
    return session;
  }

  report(report: CandidateReport): void {
    const seconds = report.seconds > 0 ? ` (${report.seconds.toFixed(1)} s)` : '';
    this.log(
      `recipe search: ${report.name}: ${this.images.task.metric} ${(report.score * 100).toFixed(1)}%, loss ${report.loss.toFixed(4)}, strength ${describeStrengths(report.recipe.strength)}${seconds}`,
    );
    this.candidates.push(report);
  }

  result(recipe: Recipe, fit: { head: TrainedRecipeHead; fit: FitSummary }, innerFolds: number): RecipeSearchResult {
    return {
      recipe,
      head: fit.head,
      candidates: this.candidates,
      skipped: this.skipped,
      innerFolds,
      finalFit: fit.fit,
      seconds: (Date.now() - this.started) / 1000,
    };
  }

  async release(): Promise<void> {
    await Promise.all(
      [...this.sessions.values()].map((session) =>
        session.then(
          (opened) => opened.release(),
          () => undefined,
        ),
      ),
    );
  }
}

/**
 * The features the search has asked for: each view set extracted once, which views of each image are already
 * there (for the budget), and the backbone's time per view, measured on the first extraction unless given.
 */
class ViewLedger {
  private readonly extract: FeatureSource;
  private readonly extracted = new Set<string>();

  constructor(
    source: FeatureSource,
    private readonly images: number,
    public msPerView: number | undefined,
  ) {
    this.extract = memoiseViews(source);
  }

  /** Views of the training images that `views` needs and the search has not extracted yet. */
  newViews(views: ViewSet): number {
    return this.images * viewNames(views).filter((name) => !this.extracted.has(name)).length;
  }

  async get(views: ViewSet): Promise<Float32Array[][]> {
    const fresh = this.newViews(views);
    const begin = Date.now();
    const features = await this.extract(views);
    if (this.msPerView === undefined && fresh > 0) this.msPerView = (Date.now() - begin) / fresh;
    for (const name of viewNames(views)) this.extracted.add(name);
    return features;
  }
}

/** The views of a view set by kind: one extraction of a kind serves every view set that has it. */
function viewNames(views: ViewSet): string[] {
  const id = resizeId(views.resize);
  return [
    `${id}/plain`,
    ...(views.mirror ? [`${id}/mirror`] : []),
    ...Array.from({ length: views.augmentedViews }, (_, i) => `${id}/augmented-${i + 1}`),
  ];
}

/**
 * The search's time budget. The first candidate always runs, and its time and training rows per image are the
 * yardstick; a later candidate's estimate is its new views at the measured time per view, plus its training scaled
 * by its rows per image. A candidate that needs no new views and trains on no more rows than one already trained
 * costs no more than what the search has paid once, and always runs.
 */
class Budget {
  private yardstick: { rows: number; ms: number } | undefined;
  private mostRows = 0;

  constructor(private readonly search: Search) {}

  /** Why the candidate must be skipped, or undefined when it runs. */
  overrun(name: string, extract: ViewSet, rows: number): string | undefined {
    if (!this.yardstick) return undefined;
    const newViews = this.search.views.newViews(extract);
    if (newViews === 0 && rows <= this.mostRows) return undefined;
    const estimate = newViews * (this.search.views.msPerView ?? 0) + (rows / this.yardstick.rows) * this.yardstick.ms;
    const budget = this.search.settings.budgetInMs;
    if (Date.now() - this.search.started + estimate <= budget) return undefined;
    return `${name}: ${newViews} new views and its training (about ${(estimate / 1000).toFixed(0)} s) would overrun the ${(budget / 1000).toFixed(0)} s budget`;
  }

  /** Records what a candidate took, from its extraction to its scores. */
  spent(rows: number, ms: number): void {
    this.yardstick ??= { rows, ms };
    this.mostRows = Math.max(this.mostRows, rows);
  }
}

/** A reported variant of a candidate, with what choosing it needs. */
interface Evaluated {
  report: CandidateReport;
  trained: CrossValidated;
  /** Whether it may be chosen (a test-time-mirrored variant must earn it). */
  eligible: boolean;
  /** Ties go to the earlier preprocessing of the search's list, then to the cheaper candidate. */
  resizeIndex: number;
  /** Training views per image, plus half a view for test-time mirroring (it doubles the serving work). */
  cost: number;
}

/** Tries the candidates in order, each with its preprocessing(s), and returns every reported variant. */
async function evaluateCandidates(
  search: Search,
  plan: readonly Candidate[],
  folds: InnerFolds,
  count: number,
): Promise<Evaluated[]> {
  const { settings } = search;
  const budget = new Budget(search);
  const evaluated: Evaluated[] = [];
  let index = 0;
  for (const candidate of plan) {
    for (const resize of preprocessingsOf(candidate, settings.resizes, evaluated)) {
      const views = candidate.views(resize, settings);
      if (!views) continue;
      const name = candidateName(candidate, views, false);
      search.options.onStep?.({ stage: `search: ${name} (${index + 1}/${count})`, index, count });
      index++;
      const extract = candidate.extract?.(resize, settings) ?? views;
      const rows = trainingViews(views).length;
      const overrun = budget.overrun(name, extract, rows);
      if (overrun) {
        search.skipped.push(overrun);
        continue;
      }
      const begin = Date.now();
      const features = await search.views.get(extract);
      evaluated.push(...(await evaluateCandidate(search, candidate, views, extract, features, folds)));
      budget.spent(rows, Date.now() - begin);
    }
  }
  return evaluated;
}

/** Trains one candidate by inner CV, and reports it on plain views and, where it applies, with test-time mirroring. */
async function evaluateCandidate(
  search: Search,
  candidate: Candidate,
  views: ViewSet,
  extract: ViewSet,
  features: Float32Array[][],
  folds: InnerFolds,
): Promise<Evaluated[]> {
  const session = await search.session(candidate.strategy, features);
  const begin = Date.now();
  const trained = await session.crossValidate(features, trainingViews(views), folds);
  const seconds = (Date.now() - begin) / 1000;
  const resizeIndex = search.settings.resizes.indexOf(views.resize);
  const variant = (testTimeMirror: boolean, scores: ScoredStrengths, eligible: boolean): Evaluated => {
    const report: CandidateReport = {
      name: candidateName(candidate, views, testTimeMirror),
      recipe: { ...views, testTimeMirror, strength: scores.strength },
      score: scores.score,
      loss: scores.loss,
      seconds: 0,
      chosen: false,
    };
    return { report, trained, eligible, resizeIndex, cost: trainingViews(views).length + (testTimeMirror ? 0.5 : 0) };
  };
  const out: Evaluated[] = [];
  if (candidate.testTimeMirror === true) out.push(variant(true, trained.mirrored(), true));
  else {
    out.push(variant(false, trained.plain, true));
    if (candidate.testTimeMirror === undefined && search.settings.allowTestTimeMirror && extract.mirror) {
      const mirrored = trained.mirrored();
      out.push(variant(true, mirrored, views.mirror && beatsClearly(mirrored, trained.plain)));
    }
  }
  // The candidate's training time goes with its first report; a variant shares it.
  out[0]!.report.seconds = seconds;
  for (const entry of out) search.report(entry.report);
  return out;
}

/** The preprocessings a candidate is tried with (see Candidate.preprocessing). */
function preprocessingsOf(
  candidate: Candidate,
  resizes: readonly ViewResize[],
  evaluated: readonly Evaluated[],
): readonly ViewResize[] {
  if (candidate.preprocessing === 'each') return resizes;
  if (candidate.preprocessing === 'best') return [best(evaluated)?.report.recipe.resize ?? resizes[0]!];
  return [candidate.preprocessing];
}

/** How many candidates the search plans to try (before any is skipped). */
function plannedRuns(plan: readonly Candidate[], settings: SearchSettings): number {
  return plan
    .map(
      (candidate) =>
        preprocessingsOf(candidate, settings.resizes, []).filter(
          (resize) => candidate.views(resize, settings) !== undefined,
        ).length,
    )
    .reduce((a, b) => a + b, 0);
}

function candidateName(candidate: Candidate, views: ViewSet, testTimeMirror: boolean): string {
  const label = candidate.strategy.label ? `, ${candidate.strategy.label}` : '';
  return `${describeViewRecipe({ ...views, testTimeMirror: false })}${label}${testTimeMirror ? ', mirror at test time' : ''}`;
}

/**
 * The eligible variant that scores highest, then has the lower loss; on a tie the earlier preprocessing (the
 * textbook centre crop first), then the cheaper, then the one tried first.
 */
function best(evaluated: readonly Evaluated[]): Evaluated | undefined {
  let winner: Evaluated | undefined;
  for (const entry of evaluated) if (entry.eligible && (!winner || better(entry, winner))) winner = entry;
  return winner;
}

function better(a: Evaluated, b: Evaluated): boolean {
  if (scoresHigher(a.report, b.report)) return true;
  if (scoresHigher(b.report, a.report)) return false;
  if (a.resizeIndex !== b.resizeIndex) return a.resizeIndex < b.resizeIndex;
  return a.cost < b.cost;
}

/** With a label of fewer than 2 training images nothing can be held out: the first preprocessing, plain views, the default strength. */
async function fitWithoutSearch(search: Search): Promise<RecipeSearchResult> {
  const resize = search.settings.resizes[0]!;
  search.skipped.push(
    `the search: the smallest label has fewer than 2 training images, so nothing can be cross-validated; used ${resizeId(resize)}, the plain view and strength ${DEFAULT_STRENGTH}`,
  );
  const recipe: Recipe = {
    resize,
    mirror: false,
    augmentedViews: 0,
    testTimeMirror: false,
    strength: new Array<number>(search.images.classCount).fill(DEFAULT_STRENGTH),
  };
  search.options.onStep?.({ stage: 'training', index: 0, count: 0 });
  const features = await search.views.get(recipe);
  const session = await search.session(CANDIDATES[0]!.strategy, features);
  return search.result(recipe, await session.fit(features, recipe), 0);
}

/** Inner folds over the images, or undefined when a label has fewer than 2 images. */
function innerFolds(images: TrainingImages, wanted: number, seed: number): InnerFolds | undefined {
  const { labelSets, classCount, task } = images;
  const counts = new Array<number>(classCount).fill(0);
  for (const set of labelSets) for (const label of task.trainedLabels(set)) counts[label]! += 1;
  const smallest = Math.min(...counts.filter((count) => count > 0));
  const k = Math.min(wanted, smallest);
  if (k < 2) return undefined;
  return { folds: task.folds(labelSets, k, seed), k };
}

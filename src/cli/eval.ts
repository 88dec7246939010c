// `icf eval DIR`: k-fold cross-validation of backbone features + linear head on a labelled folder, offline: a softmax
// head on DIR/<label>/<image>, a sigmoid head on a multi-label folder (DIR/images/ and DIR/labels.csv).
import { InvalidArgumentError } from '../errors';
import { CENTRE_CROP, SQUASH, type ViewResize } from '../image/preprocessing';
import { EXECUTION_PROVIDER_NAMES } from '../platform/executionProviderNames';
import {
  evaluateFolder,
  type FolderEvaluation,
  type MultiLabelFolderEvaluation,
  type RecipeRestrictions,
  type SingleLabelFolderEvaluation,
} from '../train/evaluateFolder';
import type { CandidateReport } from '../train/recipe';
import { MULTI_LABEL, SINGLE_LABEL, TASKS } from '../train/task';
import { parseArgs, UsageError } from './options';

export const EVAL_USAGE = `usage: icf eval DIR [options]
  k-fold cross-validation of the classifier on DIR/<label>/<image>, or of a multi-label classifier when DIR has
  labels.csv and images/, offline (no app or storage needed)
options:
                                    In every fold the trainer's recipe search picks preprocessing, views,
                                    test-time mirroring and L2 strength by inner cross-validation (nested CV)
  --folds K                         stratified folds (default 5; multi-label: iteratively stratified)
  --augment N                       augmented views of the search's richest candidate (default 2)
  --seed S                          folds, augmentation and training seed (default 0)
  --resize centre-crop|squash       search this preprocessing only
  --no-mirror                       no mirror views (in training or at test time)
  --no-tta                          no test-time mirroring
  --budget S                        the recipe search's time budget in seconds (default 300)
  --input-size S                    the backbone's input side, a multiple of 32 from 128 to 512 (default 224;
                                    larger sees finer detail and costs more)
  --providers LIST                  ONNX Runtime providers for the backbone, e.g. webgpu,cpu or cuda,cpu
                                    (falls back to CPU with a warning; the head trains on CPU)
  --json                            print the whole result as JSON`;

const VALUE_OPTIONS = ['folds', 'augment', 'seed', 'resize', 'budget', 'providers', 'input-size'] as const;
const FLAGS = ['json', 'no-mirror', 'no-tta'] as const;
/** Options of the previous trainer (the Adam head), retired with it: an old command line is told so. */
const RETIRED_OPTIONS = new Set([
  'solver',
  'epochs',
  'learning-rate',
  'batch-size',
  'patience',
  'validation-share',
  'weight-decay',
  'decay-mode',
  'label-smoothing',
  'standardize',
  'no-refit',
]);
const RESIZES: Record<string, ViewResize> = { 'centre-crop': CENTRE_CROP, squash: SQUASH };
const PROVIDERS: readonly string[] = EXECUTION_PROVIDER_NAMES;
type ValueOption = (typeof VALUE_OPTIONS)[number];

export async function evalCommand(
  args: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  refuseRetiredOptions(args);
  const { positional, values, flags } = parseArgs(args, {
    values: VALUE_OPTIONS,
    flags: FLAGS,
    command: 'eval',
  });
  if (positional.length !== 1) throw new UsageError('eval', 'eval needs exactly one DIR');
  const number = (key: ValueOption): number | undefined => {
    const text = values[key];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value))
      throw new InvalidArgumentError(`--${key} must be a number, got "${text}"`);
    return value;
  };
  const providers = values['providers']?.split(',').map((name) => name.trim());
  const unknown = providers?.find((name) => !PROVIDERS.includes(name));
  if (providers && (providers.length === 0 || unknown !== undefined))
    throw new InvalidArgumentError(
      `--providers lists execution providers from ${PROVIDERS.join(', ')}, e.g. webgpu,cpu; got "${values['providers']}"`,
    );

  const resizeName = values['resize'];
  if (resizeName !== undefined && !(resizeName in RESIZES))
    throw new InvalidArgumentError(`--resize must be centre-crop or squash, got "${resizeName}"`);
  const search: RecipeRestrictions = {};
  if (resizeName !== undefined) search.resizes = [RESIZES[resizeName]!];
  if (flags.has('no-mirror')) search.allowMirror = false;
  if (flags.has('no-tta')) search.allowTestTimeMirror = false;
  const budget = number('budget');
  if (budget !== undefined) search.budgetInMs = budget * 1000;
  const folds = number('folds');
  const augment = number('augment');
  const seed = number('seed');
  const json = flags.has('json');
  const result = await evaluateFolder(positional[0]!, {
    search,
    ...(folds !== undefined ? { folds } : {}),
    ...(augment !== undefined ? { augment } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(providers ? { executionProviders: providers } : {}),
    ...(number('input-size') !== undefined ? { inputSize: number('input-size')! } : {}),
    // Progress goes to stderr so that --json output stays machine-readable.
    onProgress: (message) => err.write(`${message}\n`),
  });
  out.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatEvaluation(result));
  return 0;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

export function formatEvaluation(r: FolderEvaluation): string {
  return r.task === 'multi-label' ? formatMultiLabel(r) : formatSingleLabel(r);
}

/** Refuses the options of the retired Adam head by name (before the parser calls them unknown). */
function refuseRetiredOptions(args: readonly string[]): void {
  const end = args.indexOf('--');
  for (const arg of end === -1 ? args : args.slice(0, end)) {
    const name = /^--([^=]+)/.exec(arg)?.[1];
    if (name !== undefined && RETIRED_OPTIONS.has(name))
      throw new UsageError(
        'eval',
        `--${name} was an option of the previous trainer (the Adam head), which is retired: every fold runs the trainer's recipe search (its candidates: --resize, --no-mirror, --no-tta, --budget)`,
      );
  }
}

function headerLines(r: FolderEvaluation, what: string): string[] {
  return [
    `${r.imageCount} images, ${r.labels.length} labels${what}, ${r.folds}-fold ${TASKS[r.task].foldMethod} CV, seed ${r.seed}, the recipe search in every fold (nested CV)`,
    `time (${r.inputSize}x${r.inputSize} input): backbone ${r.seconds.backbone.toFixed(1)} s, features ${r.seconds.features.toFixed(1)} s, training ${r.seconds.training.toFixed(1)} s, total ${r.seconds.total.toFixed(1)} s`,
  ];
}

/** Each candidate of the recipe search: its mean inner-CV score over the folds, and how many folds chose it. */
export function candidateLines(perFold: readonly { candidates?: CandidateReport[] }[], metric: string): string[] {
  const byName = new Map<string, { scores: number[]; chosen: number }>();
  for (const fold of perFold) {
    for (const candidate of fold.candidates ?? []) {
      const entry = byName.get(candidate.name) ?? { scores: [], chosen: 0 };
      entry.scores.push(candidate.score);
      if (candidate.chosen) entry.chosen++;
      byName.set(candidate.name, entry);
    }
  }
  if (byName.size === 0) return [];
  const width = Math.max(...[...byName.keys()].map((name) => name.length));
  return [
    `recipe candidates (inner-CV ${metric} inside each fold's training part, mean over folds; folds that chose it):`,
    ...[...byName].map(
      ([name, e]) =>
        `  ${name.padEnd(width)}  ${pct(e.scores.reduce((a, b) => a + b, 0) / e.scores.length)}  ${e.chosen}/${perFold.length}`,
    ),
  ];
}

function formatSingleLabel(r: SingleLabelFolderEvaluation): string {
  const lines = headerLines(r, '');
  for (const f of r.perFold) lines.push(`fold ${f.fold}: ${pct(f.accuracy)} of ${f.testCount} (${f.head})`);
  lines.push(...candidateLines(r.perFold, SINGLE_LABEL.metric));
  const correct = Math.round(r.pooled.accuracy * r.pooled.count);
  lines.push(
    `accuracy: ${pct(r.meanAccuracy)} ± ${pct(r.stdAccuracy)} (mean ± sample std over folds); pooled ${pct(r.pooled.accuracy)} (${correct}/${r.pooled.count}); top-2 ${pct(r.pooled.topK[2] ?? NaN)}`,
  );
  const width = Math.max(5, ...r.labels.map((l) => l.length));
  lines.push(`${'label'.padEnd(width)}  precision  recall     f1  support`);
  const row = (name: string, s: { precision: number; recall: number; f1: number }, support: number) =>
    `${name.padEnd(width)}  ${s.precision.toFixed(3).padStart(9)}  ${s.recall.toFixed(3).padStart(6)}  ${s.f1.toFixed(3).padStart(5)}  ${String(support).padStart(7)}`;
  for (const c of r.pooled.perClass) lines.push(row(c.label, c, c.support));
  lines.push(row('macro', r.pooled.macro, r.pooled.count));
  lines.push(`confusion matrix (rows: truth, columns: predicted, order as above):`);
  for (const [i, counts] of r.pooled.confusionMatrix.entries())
    lines.push(`${r.labels[i]!.padEnd(width)}  ${counts.map((n) => String(n).padStart(4)).join('')}`);
  return `${lines.join('\n')}\n`;
}

function formatMultiLabel(r: MultiLabelFolderEvaluation): string {
  const lines = headerLines(r, ' (multi-label, labels.csv)');
  const n = r.unlisted.length;
  if (n > 0) lines.push(`left out: ${n} ${n === 1 ? 'entry' : 'entries'} of images/ not listed in labels.csv`);
  for (const f of r.perFold) {
    lines.push(
      `fold ${f.fold}: mAP ${f.mAP.toFixed(3)}, exact match ${pct(f.exactMatch)} of ${f.testCount} (threshold ${f.threshold.toFixed(2)}, ${f.head})`,
    );
  }
  lines.push(...candidateLines(r.perFold, MULTI_LABEL.metric));
  const p = r.pooled;
  const exact = Math.round(p.exactMatch * p.count);
  lines.push(
    `mAP: ${p.mAP.toFixed(3)} pooled; ${r.meanMAP.toFixed(3)} ± ${r.stdMAP.toFixed(3)} (mean ± sample std over folds)`,
  );
  lines.push(
    `exact match: ${pct(p.exactMatch)} pooled (${exact}/${p.count}); ${pct(r.meanExactMatch)} ± ${pct(r.stdExactMatch)} over folds; Hamming accuracy ${pct(p.hammingAccuracy)}`,
  );
  lines.push(
    `(AP ranks the pooled out-of-fold scores; each image is decided by its fold's head at that head's threshold)`,
  );
  const width = Math.max(5, ...r.labels.map((l) => l.length));
  lines.push(`${'label'.padEnd(width)}     AP  precision  recall     f1  support`);
  const row = (
    name: string,
    ap: number | null,
    s: { precision: number; recall: number; f1: number },
    support: number | string,
  ) =>
    `${name.padEnd(width)}  ${(ap === null ? '-' : ap.toFixed(3)).padStart(5)}  ${s.precision.toFixed(3).padStart(9)}  ${s.recall.toFixed(3).padStart(6)}  ${s.f1.toFixed(3).padStart(5)}  ${String(support).padStart(7)}`;
  for (const l of p.perLabel) lines.push(row(l.label, l.ap, l, l.support));
  lines.push(row('macro', p.mAP, p.macro, p.count));
  return `${lines.join('\n')}\n`;
}

/**
 * Accuracy of the trainer on real photos, beside the textbook baseline: for every data set, 5-fold stratified
 * cross-validation repeated over seeds (mean ± std over all folds), with the recipe search run inside each fold's
 * training part (nested CV), and the time each fold's training took.
 *   npm run bench:accuracy [-- DIR ...]   (default: the sets in ../shared/datasets, each also cut to 27 photos per
 *                                          label; BENCH_SEEDS=3, BENCH_SUBSET=27, BENCH_CANDIDATES=1)
 * Lines: the shipped trainer (the recipe search); the baseline, a textbook linear probe (the central 224/256 crop,
 * plain views, L2 logistic regression with its strength chosen by inner 5-fold CV); each candidate of the search
 * on its own (its strength still chosen inside); and the previous trainer (minibatch Adam head, squashed views),
 * which lives on here alone (previousTrainer.ts).
 * Then a multi-label line: the 2x2 TrashNet scenes of bench:multilabel, shipped trainer against the Adam head.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CENTRE_CROP, SQUASH } from '../src/image/preprocessing';
import { type Backbone, loadBackbone } from '../src/train/backbone';
import { evaluateFolder, type EvaluateFolderOptions, type FolderEvaluation } from '../src/train/evaluateFolder';
import { seededRandom } from '../src/util/seededRandom';
import { buildScenes } from './multiLabel';
import { previousTrainer } from './previousTrainer';

const SEEDS = Number(process.env['BENCH_SEEDS'] ?? 3);
const SUBSET = Number(process.env['BENCH_SUBSET'] ?? 27);
const CANDIDATES = process.env['BENCH_CANDIDATES'] !== '0';

interface Line {
  name: string;
  options: EvaluateFolderOptions;
}

const crop = { resize: CENTRE_CROP, mirror: false, augmentedViews: 0, testTimeMirror: false };
const LINES: Line[] = [
  { name: 'shipped trainer (recipe search)', options: {} },
  { name: 'baseline: crop 224/256, L2 logistic, inner-CV strength', options: { search: { fixed: crop } } },
  ...(CANDIDATES
    ? [
        { name: 'candidate: squash, plain views', options: { search: { fixed: { ...crop, resize: SQUASH } } } },
        { name: 'candidate: crop, plain + mirror views', options: { search: { fixed: { ...crop, mirror: true } } } },
        {
          name: 'candidate: crop, plain + mirror + 2 augmented',
          options: { search: { fixed: { ...crop, mirror: true, augmentedViews: 2 } } },
        },
        {
          name: 'candidate: crop, plain + mirror, mirror at test',
          options: { search: { fixed: { ...crop, mirror: true, testTimeMirror: true } } },
        },
        {
          name: 'candidate: squash, plain + mirror + 2 aug, mirror at test',
          options: { search: { fixed: { resize: SQUASH, mirror: true, augmentedViews: 2, testTimeMirror: true } } },
        },
      ]
    : []),
  { name: 'previous trainer: Adam head, squashed views', options: { trainer: previousTrainer } },
];

function meanStd(values: number[]): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, values.length - 1));
  return `${(100 * mean).toFixed(1)}% ± ${(100 * std).toFixed(1)}%`;
}

/** A folder of symbolic links to `perLabel` photos of each label (seeded choice), for the small-data check. */
function subsetFolder(dir: string, perLabel: number, into: string): string {
  const random = seededRandom(perLabel);
  const out = path.join(into, `${path.basename(dir)}-${perLabel}-per-label`);
  for (const label of readdirSync(dir).sort()) {
    const files = readdirSync(path.join(dir, label)).sort();
    for (let i = files.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [files[i], files[j]] = [files[j]!, files[i]!];
    }
    mkdirSync(path.join(out, label), { recursive: true });
    for (const file of files.slice(0, perLabel)) symlinkSync(path.join(dir, label, file), path.join(out, label, file));
  }
  return out;
}

async function benchSet(dir: string, backbone: Backbone): Promise<void> {
  console.log(`\n${dir}: 5-fold x ${SEEDS} seed(s)`);
  for (const line of LINES) {
    const scores: number[] = [];
    const seconds: number[] = [];
    const chosen = new Map<string, number>();
    for (let seed = 0; seed < SEEDS; seed++) {
      const result: FolderEvaluation = await evaluateFolder(dir, { ...line.options, folds: 5, seed, backbone });
      const folds =
        result.task === 'single-label'
          ? result.perFold.map((f) => f.accuracy)
          : result.perFold.map((f) => f.exactMatch);
      scores.push(...folds);
      seconds.push(result.seconds.training / result.folds);
      for (const fold of result.perFold)
        chosen.set(
          fold.head.replace(/, L2 strength .*$/, ''),
          (chosen.get(fold.head.replace(/, L2 strength .*$/, '')) ?? 0) + 1,
        );
    }
    const winners = line.name.startsWith('shipped')
      ? `  chose: ${[...chosen]
          .sort((a, b) => b[1] - a[1])
          .map(([name, n]) => `${name} x${n}`)
          .join('; ')}`
      : '';
    console.log(
      `  ${line.name.padEnd(58)} ${meanStd(scores).padStart(15)}   training ${(seconds.reduce((a, b) => a + b, 0) / seconds.length).toFixed(1)} s/fold${winners}`,
    );
  }
}

async function main(): Promise<void> {
  const shared = path.resolve(__dirname, '../../../shared/datasets');
  const given = process.argv.slice(2).map((dir) => path.resolve(dir));
  const defaults = ['trashnet-subset', 'trashnet-portrait-150'].map((name) => path.join(shared, name));
  if (given.length === 0 && !defaults.every((dir) => existsSync(dir)))
    throw new Error(`${shared} is missing: the benchmark reads ../shared/datasets, or give folders`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'icf-accuracy-'));
  const backbone = await loadBackbone();
  try {
    const sets = given.length > 0 ? given : defaults;
    for (const dir of sets) {
      await benchSet(dir, backbone);
      if (given.length === 0 && SUBSET > 0) await benchSet(subsetFolder(dir, SUBSET, work), backbone);
    }
    // Multi-label: the scenes of bench:multilabel; exact-match accuracy (the headline) and mAP.
    const scenes = path.join(work, 'scenes');
    await buildScenes(defaults[0]!, scenes);
    console.log(
      `\nmulti-label scenes (bench:multilabel's 2x2 TrashNet scenes): 5-fold x ${SEEDS} seed(s), exact match and mAP`,
    );
    for (const line of [LINES[0]!, LINES[LINES.length - 1]!]) {
      const exact: number[] = [];
      const maps: number[] = [];
      for (let seed = 0; seed < SEEDS; seed++) {
        const result = await evaluateFolder(scenes, { ...line.options, folds: 5, seed, backbone });
        if (result.task !== 'multi-label') throw new Error('the scenes folder was not read as multi-label');
        exact.push(...result.perFold.map((f) => f.exactMatch));
        maps.push(...result.perFold.map((f) => f.mAP));
      }
      console.log(`  ${line.name.padEnd(58)} exact ${meanStd(exact).padStart(15)}   mAP ${meanStd(maps)}`);
    }
  } finally {
    await backbone.session.release();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

/**
 * Multi-label accuracy on real photos: `icf eval`'s multi-label path (iteratively stratified k-fold, sigmoid head on
 * frozen ResNet50 features) on scenes made of TrashNet photos, beside the chance baseline. Each scene is a 2x2 grid
 * (1024x768, as the photos' own 4:3) holding one to three photos of different classes in random cells, the other
 * cells plain grey; its labels are the classes shown. Every photo is used in exactly one scene, so no photo can sit
 * in a training and a test fold at once.
 *   npm run bench:multilabel   (BENCH_SEEDS=3: folds and head seeds 0..2; the scenes are fixed)
 * Chance: a scorer that ranks at random has an expected AP of the label's prevalence, so chance mAP is the mean
 * prevalence; the exact-match baseline always answers the most common label set.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import sharp from 'sharp';

import { sharedDataPath } from '../src/localStack/sharedData';
import { loadBackbone } from '../src/train/backbone';
import { evaluateFolder, type MultiLabelFolderEvaluation } from '../src/train/evaluateFolder';
import { seededRandom } from '../src/util/seededRandom';
import { shuffle } from '../src/util/shuffle';
import { median } from '../src/util/statistics';

const SEEDS = Number(process.env['BENCH_SEEDS'] ?? 3);
const CELL = { width: 512, height: 384 };

/** Writes the scenes and labels.csv into `dir`; returns each scene's labels. */
export async function buildScenes(root: string, dir: string): Promise<string[][]> {
  const random = seededRandom(2026);
  const pools = new Map(
    readdirSync(root)
      .sort()
      .map((label) => [label, shuffle(readdirSync(path.join(root, label)).sort(), random)]),
  );
  const scenes: string[][] = [];
  mkdirSync(path.join(dir, 'images'), { recursive: true });
  const rows = ['filename,labels'];
  for (;;) {
    const available = [...pools.keys()].filter((label) => pools.get(label)!.length > 0);
    if (available.length === 0) break;
    const wanted = 1 + Math.floor(random() * 3);
    // Prefer the fullest pools so that the classes run out together and late scenes still mix classes.
    const labels = shuffle(available, random)
      .sort((a, b) => pools.get(b)!.length - pools.get(a)!.length)
      .slice(0, wanted)
      .sort();
    const cells = shuffle([0, 1, 2, 3], random);
    const composite = await Promise.all(
      labels.map(async (label, i) => ({
        input: await sharp(readFileSync(path.join(root, label, pools.get(label)!.pop()!)))
          .resize(CELL.width, CELL.height, { fit: 'fill' })
          .toBuffer(),
        left: (cells[i]! % 2) * CELL.width,
        top: Math.floor(cells[i]! / 2) * CELL.height,
      })),
    );
    const name = `scene-${String(scenes.length).padStart(3, '0')}.jpg`;
    const scene = await sharp({
      create: { width: 2 * CELL.width, height: 2 * CELL.height, channels: 3, background: { r: 128, g: 128, b: 128 } },
    })
      .composite(composite)
      .jpeg({ quality: 90 })
      .toBuffer();
    writeFileSync(path.join(dir, 'images', name), scene);
    rows.push(`${name},${labels.join(' ')}`);
    scenes.push(labels);
  }
  writeFileSync(path.join(dir, 'labels.csv'), `${rows.join('\n')}\n`);
  return scenes;
}

async function main(): Promise<void> {
  const root = sharedDataPath('datasets', 'trashnet-subset');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'icf-multilabel-'));
  try {
    const scenes = await buildScenes(root, dir);
    const labels = [...new Set(scenes.flat())].sort();
    const prevalence = labels.map((label) => scenes.filter((s) => s.includes(label)).length / scenes.length);
    const setCounts = new Map<string, number>();
    for (const s of scenes) setCounts.set(s.join('+'), (setCounts.get(s.join('+')) ?? 0) + 1);
    const chanceMAP = prevalence.reduce((a, b) => a + b, 0) / labels.length;
    const majorityExact = Math.max(...setCounts.values()) / scenes.length;
    const perScene = scenes.map((s) => s.length);
    console.log(
      `multi-label bench: ${scenes.length} scenes from ${perScene.reduce((a, b) => a + b, 0)} TrashNet photos, ${labels.length} labels, ` +
        `${perScene.filter((n) => n === 1).length}/${perScene.filter((n) => n === 2).length}/${perScene.filter((n) => n === 3).length} scenes with 1/2/3 photos; 5-fold, ${SEEDS} seed(s)`,
    );
    const backbone = await loadBackbone();
    const results: MultiLabelFolderEvaluation[] = [];
    try {
      for (let seed = 0; seed < SEEDS; seed++) {
        const result = await evaluateFolder(dir, { folds: 5, seed, backbone });
        if (result.task !== 'multi-label') throw new Error('the scenes folder was not read as multi-label');
        results.push(result);
        console.log(
          `seed ${seed}: pooled mAP ${result.pooled.mAP.toFixed(3)} (folds ${result.meanMAP.toFixed(3)} ± ${result.stdMAP.toFixed(3)}), exact match ${(result.pooled.exactMatch * 100).toFixed(1)}%, Hamming accuracy ${(result.pooled.hammingAccuracy * 100).toFixed(1)}%, ${result.seconds.total.toFixed(0)} s`,
        );
      }
    } finally {
      await backbone.session.release();
    }
    const pooled = (pick: (r: MultiLabelFolderEvaluation) => number) => median(results.map(pick));
    console.log(
      `median over seeds:   mAP ${pooled((r) => r.pooled.mAP).toFixed(3)}   exact match ${(pooled((r) => r.pooled.exactMatch) * 100).toFixed(1)}%   Hamming ${(pooled((r) => r.pooled.hammingAccuracy) * 100).toFixed(1)}%`,
    );
    console.log(
      `chance baseline:     mAP ${chanceMAP.toFixed(3)} (mean prevalence)   exact match ${(majorityExact * 100).toFixed(1)}% (always the most common set)`,
    );
    const last = results[results.length - 1]!;
    console.log(
      `per label (seed ${SEEDS - 1}): ${last.pooled.perLabel.map((l) => `${l.label} AP ${l.ap?.toFixed(3) ?? '-'}`).join(', ')}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}

/**
 * Feature extraction benchmark: the trainer's extractFeatures (decode, view, batch, backbone) on real photos,
 * beside the bare minimum for the same images: sharp's decode + resize, plus ONNX Runtime runs of the same
 * backbone at the same batch size, timed separately and added. Then the time of one fit of the trainer's logistic
 * head (L-BFGS on the plain views, the default strength) beside it.
 *   npm run bench:features   (BENCH_IMAGES=60 by default, BENCH_ROUNDS=3)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

import { CENTRE_CROP } from '../src/image/preprocessing';
import { sharedDataPath } from '../src/localStack/sharedData';
import { loadBackbone } from '../src/train/backbone';
import { extractFeatures } from '../src/train/features';
import { LogisticSolver } from '../src/train/logistic';
import { DEFAULT_STRENGTH, fitRecipe } from '../src/train/recipe';
import { median } from '../src/util/statistics';

const IMAGES = Number(process.env['BENCH_IMAGES'] ?? 60);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const BATCH = 16;

async function main(): Promise<void> {
  const root = sharedDataPath('datasets', 'trashnet-subset');
  const files: { label: number; file: string }[] = [];
  const labels = fs.readdirSync(root).sort();
  labels.forEach((label, index) => {
    for (const name of fs.readdirSync(path.join(root, label)).sort())
      files.push({ label: index, file: path.join(root, label, name) });
  });
  const picked = files.filter((_, i) => i % Math.max(1, Math.floor(files.length / IMAGES)) === 0).slice(0, IMAGES);
  const buffers = picked.map((f) => fs.readFileSync(f.file));
  const backbone = await loadBackbone();
  console.log(
    `features bench: ${buffers.length} TrashNet photos (512x384 JPEG), batch ${BATCH}, ${ROUNDS} rounds, ONNX Runtime CPU`,
  );

  const ours: number[] = [];
  const bareDecode: number[] = [];
  const bareInference: number[] = [];
  let features: Float32Array[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let t = performance.now();
    features = await extractFeatures(backbone, buffers, { cache: false, batchSize: BATCH });
    ours.push(performance.now() - t);

    t = performance.now();
    const tensors: Buffer[] = [];
    for (const buffer of buffers)
      tensors.push(await sharp(buffer).removeAlpha().resize(224, 224, { fit: 'fill' }).raw().toBuffer());
    bareDecode.push(performance.now() - t);

    const batch = new Float32Array(BATCH * 3 * 224 * 224).fill(128);
    t = performance.now();
    for (let start = 0; start < buffers.length; start += BATCH) {
      const size = Math.min(BATCH, buffers.length - start);
      const input = new ort.Tensor('float32', batch.subarray(0, size * 3 * 224 * 224), [size, 3, 224, 224]);
      await backbone.session.run({ [backbone.inputName]: input }, [backbone.outputNames.features]);
    }
    bareInference.push(performance.now() - t);
  }
  const rate = (ms: number) => (buffers.length * 1000) / ms;
  const bare = median(bareDecode) + median(bareInference);
  console.log(
    `extractFeatures (ours):               ${rate(median(ours)).toFixed(1)} images/s  (median ${median(ours).toFixed(0)} ms)`,
  );
  console.log(
    `bare: sharp decode+resize             ${rate(median(bareDecode)).toFixed(1)} images/s  (median ${median(bareDecode).toFixed(0)} ms)`,
  );
  console.log(
    `bare: ONNX Runtime backbone runs      ${rate(median(bareInference)).toFixed(1)} images/s  (median ${median(bareInference).toFixed(0)} ms)`,
  );
  console.log(`bare: decode + runs, added            ${rate(bare).toFixed(1)} images/s`);
  console.log(`ours / bare:                          ${(bare / median(ours)).toFixed(2)}  (goal: at least 0.9)`);

  const t = performance.now();
  const solver = await LogisticSolver.create(backbone.featureLength, labels.length, 'softmax');
  try {
    const strength = new Array<number>(labels.length).fill(DEFAULT_STRENGTH);
    await fitRecipe(
      solver,
      features,
      picked.map((f) => [f.label]),
      { resize: CENTRE_CROP, mirror: false, augmentedViews: 0, testTimeMirror: false, strength },
    );
  } finally {
    await solver.release();
  }
  const headMs = performance.now() - t;
  console.log(
    `head training (one logistic fit):     ${headMs.toFixed(0)} ms, ${((headMs / median(ours)) * 100).toFixed(1)}% of the extraction time`,
  );
  await backbone.session.release();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

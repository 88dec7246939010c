/**
 * Decode benchmark: the plain view of phone-sized photos (what the endpoint does before the model) beside the bare
 * minimum and the pipeline it replaced:
 *   bare        sharp: JPEG in, straight resize to 224x224 raw (shrink-on-load at its fastest, no crop)
 *   ours        renderView with the centre crop (resize first: shrink-on-load within a fraction of a level)
 *   extract     the previous centre crop: extract the central square of the full decode, then resize
 * Each variant runs in its own child process, so that its peak resident memory (maxRSS) is its own: 8 photos of
 * 4032x3024 rendered concurrently, ROUNDS times; medians of per-image time.
 *   npm run bench:decode   (BENCH_ROUNDS=7, BENCH_CONCURRENT=8)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import sharp from 'sharp';

import { renderView } from '../src/image/view';
import { sharedDataPath } from '../src/localStack/sharedData';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const CONCURRENT = Number(process.env['BENCH_CONCURRENT'] ?? 8);
const VARIANTS = ['bare', 'ours', 'extract'] as const;
type Variant = (typeof VARIANTS)[number];

async function phonePhotos(): Promise<Buffer[]> {
  const root = sharedDataPath('datasets', 'trashnet-subset');
  const files = fs
    .readdirSync(root)
    .sort()
    .flatMap((label) =>
      fs
        .readdirSync(path.join(root, label))
        .sort()
        .slice(0, 2)
        .map((f) => path.join(root, label, f)),
    );
  // Upscaled to a 12 MP phone photo, re-encoded as a camera would.
  return Promise.all(
    files
      .slice(0, CONCURRENT)
      .map((file) => sharp(file).resize(4032, 3024, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer()),
  );
}

async function render(variant: Variant, input: Buffer): Promise<void> {
  if (variant === 'bare') {
    await sharp(input).removeAlpha().resize(224, 224, { fit: 'fill' }).raw().toBuffer();
  } else if (variant === 'ours') {
    await renderView(input);
  } else {
    const { width, height } = await sharp(input).metadata();
    const side = Math.round(Math.min(width, height) * 0.875);
    const region = {
      left: Math.floor((width - side) / 2),
      top: Math.floor((height - side) / 2),
      width: side,
      height: side,
    };
    await sharp(input)
      .autoOrient()
      .extract(region)
      .removeAlpha()
      .toColourspace('srgb')
      .resize(224, 224, { fit: 'fill' })
      .raw()
      .toBuffer();
  }
}

async function child(variant: Variant): Promise<void> {
  const photos = await phonePhotos();
  const before = process.resourceUsage().maxRSS;
  const perImageMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    await Promise.all(photos.map((photo) => render(variant, photo)));
    perImageMs.push((performance.now() - start) / photos.length);
  }
  perImageMs.sort((a, b) => a - b);
  const result = {
    variant,
    medianMsPerImage: perImageMs[perImageMs.length >> 1]!,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    rssBeforeMb: before / 1024,
  };
  process.stdout.write(JSON.stringify(result));
}

function main(): void {
  const results = VARIANTS.map(
    (variant) =>
      JSON.parse(execFileSync(process.execPath, [__filename, variant], { encoding: 'utf8' })) as {
        variant: Variant;
        medianMsPerImage: number;
        peakRssMb: number;
        rssBeforeMb: number;
      },
  );
  const bare = results.find((r) => r.variant === 'bare')!;
  console.log(
    `plain view of ${CONCURRENT} concurrent 4032x3024 JPEGs, ${ROUNDS} rounds (median ms per image; peak RSS of the process)`,
  );
  console.log('variant   ms/image   ratio   peak RSS MB   over start MB');
  for (const r of results) {
    console.log(
      `${r.variant.padEnd(9)} ${r.medianMsPerImage.toFixed(1).padStart(8)}   ${(r.medianMsPerImage / bare.medianMsPerImage).toFixed(2).padStart(5)}   ${r.peakRssMb.toFixed(0).padStart(11)}   ${(r.peakRssMb - r.rssBeforeMb).toFixed(0).padStart(13)}`,
    );
  }
}

const variant = process.argv[2] as Variant | undefined;
if (variant) {
  if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}; one of ${VARIANTS.join(', ')}`);
  child(variant).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main();
}

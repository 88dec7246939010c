// Feature caches on disk and in blob storage (a real Azurite): vectors round-trip, missing or damaged entries read
// as absent, and extractFeatures pays the backbone only for what the cache lacks.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderGarment } from '../../src/collect/syntheticImages';
import { type Backbone, loadBackbone } from '../../src/train/backbone';
import { BlobFeatureCache, DiskFeatureCache, type FeatureCache } from '../../src/train/featureCache';
import { extractFeatures } from '../../src/train/features';
import { startTestStorage, type TestStorage } from '../support/azurite';

let storage: TestStorage;
let dir: string;
let backbone: Backbone;

beforeAll(async () => {
  storage = await startTestStorage();
  dir = mkdtempSync(path.join(os.tmpdir(), 'icf-features-'));
  backbone = await loadBackbone();
}, 300_000);

afterAll(async () => {
  await backbone?.session.release();
  await storage?.azurite.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['disk', () => new DiskFeatureCache(path.join(dir, 'disk'))],
  ['blob', () => new BlobFeatureCache(storage.clients.blobs.getContainerClient('features-test'))],
])('%s feature cache', (_, make: () => FeatureCache) => {
  it('round-trips vectors and reads missing or wrong-length entries as absent', async () => {
    const cache = make();
    // Before anything is written (for blobs: before the container exists) every key is simply missing.
    expect(await cache.read(['m/v2/aa/none.f32'], 4)).toEqual([undefined]);
    await cache.write('m/v2/aa/one.f32', Float32Array.from([1, 2, 3, 4]));
    await cache.write('m/v2/bb/two.f32', Float32Array.from([5, 6, 7, 8]));
    const [one, missing, two] = await cache.read(['m/v2/aa/one.f32', 'm/v2/aa/none.f32', 'm/v2/bb/two.f32'], 4);
    expect(Array.from(one!)).toEqual([1, 2, 3, 4]);
    expect(missing).toBeUndefined();
    expect(Array.from(two!)).toEqual([5, 6, 7, 8]);
    // A vector of another length (another backbone's, or a truncated write) is not trusted.
    expect(await cache.read(['m/v2/aa/one.f32'], 8)).toEqual([undefined]);
  });
});

describe('extractFeatures with a cache', () => {
  it('computes only the views the cache lacks, and gives the same vectors from it', async () => {
    const cache = new BlobFeatureCache(storage.clients.blobs.getContainerClient('features'));
    const images = await Promise.all(
      [1, 2, 3].map((seed) => renderGarment({ item: 'shirt', pattern: 'dotted', seed, width: 240, height: 240 })),
    );
    const first: number[] = [];
    const computed = await extractFeatures(backbone, images.slice(0, 2), {
      augmentedViews: 1,
      cache,
      onProgress: (done) => first.push(done),
    });
    expect(first[0]).toBe(0);
    const again: number[] = [];
    const all = await extractFeatures(backbone, images, {
      augmentedViews: 1,
      cache,
      onProgress: (done) => again.push(done),
    });
    // The first two images' four views came from the cache; only the third image's two views ran.
    expect(again).toEqual([4, 6]);
    expect(Array.from(all[1]![1]!)).toEqual(Array.from(computed[1]![1]!));
    const blobs: string[] = [];
    for await (const blob of storage.clients.blobs.getContainerClient('features').listBlobsFlat())
      blobs.push(blob.name);
    expect(blobs).toHaveLength(6);
    expect(
      blobs.every((name) => name.startsWith(`${path.basename(backbone.modelPath, '.onnx')}/`) && name.endsWith('.f32')),
    ).toBe(true);
  });

  it('recomputes a damaged entry and rewrites it', async () => {
    const cacheDir = path.join(dir, 'damaged');
    const image = await renderGarment({ item: 'shirt', pattern: 'striped', seed: 9, width: 240, height: 240 });
    const [[good]] = (await extractFeatures(backbone, [image], { cache: cacheDir })) as [[Float32Array]];
    // Truncate the cached file: the next run must not trust it.
    const files: string[] = [];
    const walk = (folder: string) =>
      readdirSync(folder).forEach((name) =>
        statSync(path.join(folder, name)).isDirectory()
          ? walk(path.join(folder, name))
          : files.push(path.join(folder, name)),
      );
    walk(cacheDir);
    expect(files).toHaveLength(1);
    writeFileSync(files[0]!, Buffer.alloc(10));
    const progress: number[] = [];
    const [[again]] = (await extractFeatures(backbone, [image], {
      cache: cacheDir,
      onProgress: (done) => progress.push(done),
    })) as [[Float32Array]];
    expect(progress[0]).toBe(0);
    expect(Array.from(again)).toEqual(Array.from(good));
    expect(statSync(files[0]!).size).toBe(good.length * 4);
  });
});

// Backbone features of images, one vector per view: view 0 is the plain view (what inference sees), then, when asked,
// its mirror image (a training view, and test-time augmentation's second view), then augmented views drawn
// deterministically from (seed, image content, view). Results are cached (on disk or in blob
// storage, see featureCache.ts) so that retraining, or re-running an evaluation with other head settings, does not
// pay for the backbone again.
import { createHash } from 'node:crypto';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { InvalidArgumentError } from '../errors';
import { CENTRE_CROP, resizeId, type ViewResize } from '../image/preprocessing';
import { type ImageView, mirrorView, renderView, VIEW_VERSION } from '../image/view';
import type { AugmentationPolicy } from '../model/published';
import { cacheDir as defaultCacheDir } from '../util/cacheDir';
import { DEFAULT_AUGMENTATION, sampleAugmentation } from './augment';
import type { Backbone } from './backbone';
import { DiskFeatureCache, type FeatureCache } from './featureCache';

export interface FeatureOptions {
  /** How each picture becomes a square (the plain view and the crops of augmented views); default CENTRE_CROP. */
  resize?: ViewResize;
  /** Also the plain view mirrored, as view 1; default false. */
  mirror?: boolean;
  /** Augmented views per image after the plain (and mirror) view; default 0. */
  augmentedViews?: number;
  /** Augmentation policy of the augmented views; default DEFAULT_AUGMENTATION. */
  policy?: AugmentationPolicy;
  /** Seed of the augmented views; default 0. */
  seed?: number;
  /** Images per backbone run; default 16. */
  batchSize?: number;
  /** Called once the cached views are in (done = views found in the cache), then after each batch. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Where features are cached: a FeatureCache, a folder, or false for none. Default the folder
   * $ICF_CACHE_DIR/features, else <project>/.cache/features.
   */
  cache?: FeatureCache | string | false;
}

/** What the backbone must offer: a session with an NCHW input and a `features` output. */
export type FeatureBackbone = Pick<
  Backbone,
  'session' | 'modelPath' | 'inputName' | 'inputSize' | 'outputNames' | 'featureLength'
>;

/**
 * Returns features[image][view], each a Float32Array of the backbone's feature length: view 0 plain, then the mirror
 * view when `mirror`, then the augmented views.
 */
export async function extractFeatures(
  backbone: FeatureBackbone,
  images: readonly Buffer[],
  options: FeatureOptions = {},
): Promise<Float32Array[][]> {
  const augmented = options.augmentedViews ?? 0;
  if (!Number.isInteger(augmented) || augmented < 0 || augmented > 64)
    throw new InvalidArgumentError(`augmentedViews must be an integer from 0 to 64, got ${augmented}`);
  const mirror = options.mirror ?? false;
  const firstAugmented = mirror ? 2 : 1;
  const views = firstAugmented + augmented;
  const resize = options.resize ?? CENTRE_CROP;
  const resizeName = resizeId(resize);
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 256)
    throw new InvalidArgumentError(`batchSize must be an integer from 1 to 256, got ${batchSize}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new InvalidArgumentError(`seed must be an integer, got ${seed}`);
  const policy = options.policy ?? DEFAULT_AUGMENTATION;
  const cache =
    options.cache === false
      ? undefined
      : typeof options.cache === 'object'
        ? options.cache
        : new DiskFeatureCache(path.resolve(options.cache ?? defaultCacheDir('features')));
  // The model file name carries the package and converter version: a different backbone never reads these files.
  const backboneId = path.basename(backbone.modelPath).replace(/\.onnx$/, '');
  const policyId = sha256(JSON.stringify(policy)).slice(0, 12);

  interface Job {
    image: number;
    view: number;
    kind: 'plain' | 'mirror' | 'augmented';
    viewSeed: number;
    cacheKey: string;
  }
  const result: Float32Array[][] = images.map(() => new Array<Float32Array>(views));
  const jobs: Job[] = [];
  for (let image = 0; image < images.length; image++) {
    const digest = sha256(images[image]!);
    for (let view = 0; view < views; view++) {
      const kind = view === 0 ? 'plain' : view < firstAugmented ? 'mirror' : 'augmented';
      // Seeded by content, not position: the same photo gets the same views whatever folder order it comes in; the
      // n-th augmented view is the same whether or not a mirror view comes before it.
      const viewSeed =
        kind === 'augmented'
          ? Number.parseInt(sha256(`${digest}:${seed}:${view - firstAugmented + 1}`).slice(0, 8), 16)
          : 0;
      const key = kind === 'augmented' ? `${policyId}-${viewSeed.toString(16)}` : kind;
      jobs.push({
        image,
        view,
        kind,
        viewSeed,
        cacheKey: `${backboneId}/${backbone.inputSize}/${VIEW_VERSION}/${resizeName}/${digest.slice(0, 2)}/${digest}-${key}.f32`,
      });
    }
  }
  const cached = cache
    ? await cache.read(
        jobs.map((job) => job.cacheKey),
        backbone.featureLength,
      )
    : [];
  const pending: Job[] = [];
  jobs.forEach((job, i) => {
    const vector = cached[i];
    if (vector) result[job.image]![job.view] = vector;
    else pending.push(job);
  });

  const total = images.length * views;
  let done = total - pending.length;
  options.onProgress?.(done, total);
  const size = backbone.inputSize;
  // An image whose plain and mirror views are both pending is decoded once: the mirror view is the plain one mirrored.
  const plainPending = new Set(pending.filter((job) => job.kind === 'plain').map((job) => job.image));
  const both = new Set(
    pending.filter((job) => job.kind === 'mirror' && plainPending.has(job.image)).map((job) => job.image),
  );
  const plainRenders = new Map<number, Promise<ImageView>>();
  const renderPlain = (image: number) => {
    // The first of the two renders and keeps it; the second takes it (and nothing is kept after).
    const shared = plainRenders.get(image);
    if (shared) {
      plainRenders.delete(image);
      return shared;
    }
    const rendering = renderView(images[image]!, { size, resize });
    if (both.delete(image)) plainRenders.set(image, rendering);
    return rendering;
  };
  const render = async (job: Job): Promise<ImageView> => {
    if (job.kind === 'augmented')
      return renderView(images[job.image]!, { augmentation: sampleAugmentation(policy, job.viewSeed), size, resize });
    const plain = await renderPlain(job.image);
    return job.kind === 'mirror' ? mirrorView(plain) : plain;
  };
  const renderBatch = async (jobs: Job[]): Promise<Float32Array> => {
    const plane = 3 * size * size;
    const input = new Float32Array(jobs.length * plane);
    const rendered = await Promise.all(jobs.map(render));
    rendered.forEach((view, i) => input.set(view.data, i * plane));
    return input;
  };
  // Render the next batch (sharp, libuv threads) while the backbone runs on this one.
  let next = pending.length > 0 ? renderBatch(pending.slice(0, batchSize)) : undefined;
  const writes: Promise<void>[] = [];
  let writeError: unknown;
  for (let start = 0; start < pending.length; start += batchSize) {
    const jobs = pending.slice(start, start + batchSize);
    const input = await next!;
    next =
      start + batchSize < pending.length
        ? renderBatch(pending.slice(start + batchSize, start + 2 * batchSize))
        : undefined;
    // Avoid an unhandled rejection if the prefetch fails while the backbone runs; it is awaited next round.
    next?.catch(() => undefined);
    const output = await backbone.session.run({
      [backbone.inputName]: new ort.Tensor('float32', input, [jobs.length, 3, size, size]),
    });
    const features = output[backbone.outputNames.features];
    if (!features) throw new Error(`backbone has no "${backbone.outputNames.features}" output`);
    const data = features.data as Float32Array;
    const length = backbone.featureLength;
    if (data.length !== jobs.length * length)
      throw new Error(`backbone returned ${data.length} feature values for ${jobs.length} views of ${length}`);
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const vector = data.slice(i * length, (i + 1) * length);
      result[job.image]![job.view] = vector;
      // Written while the backbone carries on; all writes are awaited before returning, and a failed one fails the call.
      if (cache) writes.push(cache.write(job.cacheKey, vector).catch((error: unknown) => void (writeError ??= error)));
    }
    done += jobs.length;
    options.onProgress?.(done, total);
  }
  await Promise.all(writes);
  if (writeError !== undefined)
    throw writeError instanceof Error ? writeError : new Error('a feature cache write failed', { cause: writeError });
  return result;
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

// Backbone features of images, one vector per view: view 0 is the plain view (what inference sees), then, when asked,
// its mirror image (a training view, and test-time augmentation's second view), then augmented views drawn
// deterministically from (seed, image content, view). Results are cached (on disk or in blob
// storage, see featureCache.ts) so that retraining, or re-running an evaluation with other head settings, does not
// pay for the backbone again.
import { createHash } from 'node:crypto';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { ProgrammingError } from '../errors';
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
 * view when `mirror`, then the augmented views. The views the cache has are read from it; the rest are rendered and
 * run through the backbone in batches (the next batch rendering while the backbone runs), then written to it.
 */
export async function extractFeatures(
  backbone: FeatureBackbone,
  images: readonly Buffer[],
  options: FeatureOptions = {},
): Promise<Float32Array[][]> {
  const settings = resolveOptions(options);
  const jobs = planViews(backbone, images, settings);
  const result: Float32Array[][] = images.map(() => new Array<Float32Array>(settings.views));
  const pending = await readCached(settings.cache, jobs, backbone.featureLength, result);
  const total = jobs.length;
  let done = total - pending.length;
  options.onProgress?.(done, total);
  const writes = new CacheWrites(settings.cache);
  await runBackbone(
    backbone,
    pending,
    settings.batchSize,
    viewRenderer(images, pending, backbone.inputSize, settings),
    (job, vector) => {
      result[job.image]![job.view] = vector;
      writes.add(job.cacheKey, vector);
    },
    (count) => {
      done += count;
      options.onProgress?.(done, total);
    },
  );
  await writes.finished();
  return result;
}

/** The options with their defaults, checked, and the cache they name. */
interface Settings {
  /** Views per image, and the index of the first augmented one (1, or 2 after a mirror view). */
  views: number;
  firstAugmented: number;
  resize: ViewResize;
  batchSize: number;
  seed: number;
  policy: AugmentationPolicy;
  cache: FeatureCache | undefined;
}

function resolveOptions(options: FeatureOptions): Settings {
  const augmented = options.augmentedViews ?? 0;
  if (!Number.isInteger(augmented) || augmented < 0 || augmented > 64)
    throw new ProgrammingError(`augmentedViews must be an integer from 0 to 64, got ${augmented}`);
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 256)
    throw new ProgrammingError(`batchSize must be an integer from 1 to 256, got ${batchSize}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new ProgrammingError(`seed must be an integer, got ${seed}`);
  const firstAugmented = options.mirror ? 2 : 1;
  return {
    views: firstAugmented + augmented,
    firstAugmented,
    resize: options.resize ?? CENTRE_CROP,
    batchSize,
    seed,
    policy: options.policy ?? DEFAULT_AUGMENTATION,
    cache:
      options.cache === false
        ? undefined
        : typeof options.cache === 'object'
          ? options.cache
          : new DiskFeatureCache(path.resolve(options.cache ?? defaultCacheDir('features'))),
  };
}

/** One view of one image to compute (or read from the cache). */
interface ViewJob {
  image: number;
  view: number;
  kind: 'plain' | 'mirror' | 'augmented';
  viewSeed: number;
  cacheKey: string;
}

/** Every view of every image, with the seed of an augmented view and the cache key of each. */
function planViews(backbone: FeatureBackbone, images: readonly Buffer[], settings: Settings): ViewJob[] {
  const { views, firstAugmented, seed } = settings;
  // The model file name carries the package and converter version: a different backbone never reads these files.
  const backboneId = path.basename(backbone.modelPath).replace(/\.onnx$/, '');
  const policyId = sha256(JSON.stringify(settings.policy)).slice(0, 12);
  const prefix = `${backboneId}/${backbone.inputSize}/${VIEW_VERSION}/${resizeId(settings.resize)}`;
  const jobs: ViewJob[] = [];
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
      jobs.push({ image, view, kind, viewSeed, cacheKey: `${prefix}/${digest.slice(0, 2)}/${digest}-${key}.f32` });
    }
  }
  return jobs;
}

/** Fills `result` with the views the cache has; returns the jobs still to compute. */
async function readCached(
  cache: FeatureCache | undefined,
  jobs: readonly ViewJob[],
  featureLength: number,
  result: Float32Array[][],
): Promise<ViewJob[]> {
  const cached = cache
    ? await cache.read(
        jobs.map((job) => job.cacheKey),
        featureLength,
      )
    : [];
  const pending: ViewJob[] = [];
  jobs.forEach((job, i) => {
    const vector = cached[i];
    if (vector) result[job.image]![job.view] = vector;
    else pending.push(job);
  });
  return pending;
}

/**
 * Renders a batch of views into one NCHW input. An image whose plain and mirror views are both pending is decoded
 * once: the mirror view is the plain one mirrored.
 */
function viewRenderer(
  images: readonly Buffer[],
  pending: readonly ViewJob[],
  size: number,
  settings: Settings,
): (jobs: ViewJob[]) => Promise<Float32Array> {
  const { resize, policy } = settings;
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
  const render = async (job: ViewJob): Promise<ImageView> => {
    if (job.kind === 'augmented')
      return renderView(images[job.image]!, { augmentation: sampleAugmentation(policy, job.viewSeed), size, resize });
    const plain = await renderPlain(job.image);
    return job.kind === 'mirror' ? mirrorView(plain) : plain;
  };
  return async (jobs) => {
    const plane = 3 * size * size;
    const input = new Float32Array(jobs.length * plane);
    const rendered = await Promise.all(jobs.map(render));
    rendered.forEach((view, i) => input.set(view.data, i * plane));
    return input;
  };
}

/** Runs the backbone on the pending views in batches, rendering the next batch (sharp, libuv threads) meanwhile. */
async function runBackbone(
  backbone: FeatureBackbone,
  pending: readonly ViewJob[],
  batchSize: number,
  renderBatch: (jobs: ViewJob[]) => Promise<Float32Array>,
  onFeatures: (job: ViewJob, vector: Float32Array) => void,
  onBatch: (views: number) => void,
): Promise<void> {
  const size = backbone.inputSize;
  const length = backbone.featureLength;
  let next = pending.length > 0 ? renderBatch(pending.slice(0, batchSize)) : undefined;
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
    if (data.length !== jobs.length * length)
      throw new Error(`backbone returned ${data.length} feature values for ${jobs.length} views of ${length}`);
    jobs.forEach((job, i) => onFeatures(job, data.slice(i * length, (i + 1) * length)));
    onBatch(jobs.length);
  }
}

/** Cache writes made while the backbone carries on: all awaited before returning, and a failed one fails the call. */
class CacheWrites {
  private readonly writes: Promise<void>[] = [];
  private error: unknown;

  constructor(private readonly cache: FeatureCache | undefined) {}

  add(key: string, vector: Float32Array): void {
    if (this.cache)
      this.writes.push(this.cache.write(key, vector).catch((error: unknown) => void (this.error ??= error)));
  }

  async finished(): Promise<void> {
    await Promise.all(this.writes);
    if (this.error !== undefined)
      throw this.error instanceof Error ? this.error : new Error('a feature cache write failed', { cause: this.error });
  }
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

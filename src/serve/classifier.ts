// Classifies images with a dataset's current model: the ingest's validation (same reasons, same pixel
// limits), then exactly the trainer's preprocessing (renderView's plain view with the model's resize), then the
// fused model (backbone + head + softmax, or sigmoid for multi-label models), which outputs probabilities.
// classify() refuses a request with any bad image; classifyEach() answers the good images of a batch and names the
// bad ones, each with its reason.
import type { IngestSettings } from '../config';
import type { Catalog } from '../dataset/catalog';
import { checkImageHeader, ImageRejectedError } from '../dataset/validate';
import { messageOf, NotFoundError } from '../errors';
import type { ViewResize } from '../image/preprocessing';
import { type ImageView, renderView } from '../image/view';
import type { ModelTask } from '../model/published';
import { SERVING_TASKS } from '../model/task';
import type { PixelBudget } from '../util/pixelBudget';
import { type ModelCache, NoModelError } from './modelCache';
import type { UploadedFile } from './uploadedFile';

export interface Prediction {
  label: string;
  probability: number;
}

/** One image's times; the images of a request run through the model together, so they share `inference`. */
export interface Timing {
  /** Its own header checks and decode (which may wait for the decode pixel budget). */
  decode: number;
  /** From its decode's end to the start of the model run: waiting for the other images' decodes. */
  wait: number;
  /** The model run its probabilities came from. */
  inference: number;
  /** From the request's start (the model lookup included) to its probabilities. */
  total: number;
}

export interface ImageResult {
  fileName?: string;
  field?: string;
  predictions: Prediction[];
  timingInMs: Timing;
}

/** An image of a batch that could not be classified, with the reason (ingest's codes). */
export interface RejectedImage {
  fileName?: string;
  field?: string;
  error: ImageRejectedError;
}

export interface ClassifyOptions {
  /** At most this many predictions per image, most probable first. */
  top: number;
  /**
   * Multi-label models (one independent probability per label): the labels at or above it are the answer; default
   * the threshold the trainer chose. Single-label models ignore it: their answer is the top N.
   */
  threshold?: number;
}

/** What the request options may depend on. */
export interface ServedModelInfo {
  task: ModelTask;
  labels: readonly string[];
}

export interface ClassifyOutcome<Result = ImageResult> {
  dataset: string;
  modelVersion: string;
  task: ModelTask;
  /** Multi-label models: the threshold applied. */
  threshold?: number;
  labels: string[];
  results: Result[];
  /** The whole request: the decodes' wall time (they run in parallel), the model run, and the total. */
  timingInMs: { decode: number; inference: number; total: number };
}

export interface ClassifierOptions {
  /** Tells a dataset that does not exist from one not trained yet. */
  catalog: Pick<Catalog, 'getStats'>;
  /** Bounds the pixels decoded at once (shared with ingest); default: no bound. */
  pixelBudget?: PixelBudget;
}

export class Classifier {
  constructor(
    private readonly cache: ModelCache,
    private readonly ingest: IngestSettings,
    private readonly options: ClassifierOptions,
  ) {}

  /** Loads the models of `selection` before their first request (see ModelCache.warmUp); never throws. */
  warmUp(selection: '*' | readonly string[]): Promise<string[]> {
    return this.cache.warmUp(selection);
  }

  /**
   * The model is acquired first, before any decoding: NotFoundError for a dataset that does not exist, NoModelError
   * for one not trained yet. Each image is then validated: the first bad one fails the whole call
   * (ImageRejectedError).
   */
  async classify(
    dataset: string,
    files: UploadedFile[],
    options: (model: ServedModelInfo) => ClassifyOptions,
  ): Promise<ClassifyOutcome> {
    const outcome = await this.#classify(dataset, files, options, { strict: true });
    return { ...outcome, results: outcome.results.filter((result): result is ImageResult => !isRejected(result)) };
  }

  /** As classify(), but a bad image becomes a RejectedImage in its place while the others are classified. */
  classifyEach(
    dataset: string,
    files: UploadedFile[],
    options: (model: ServedModelInfo) => ClassifyOptions,
  ): Promise<ClassifyOutcome<ImageResult | RejectedImage>> {
    return this.#classify(dataset, files, options, { strict: false });
  }

  async #classify(
    dataset: string,
    files: UploadedFile[],
    options: (model: ServedModelInfo) => ClassifyOptions,
    { strict }: { strict: boolean },
  ): Promise<ClassifyOutcome<ImageResult | RejectedImage>> {
    const started = performance.now();
    const lease = await this.#acquire(dataset);
    try {
      const { model } = lease;
      const task = model.pointer.task;
      const chosen = options({ task, labels: model.labels });
      const threshold = SERVING_TASKS[task].servingThreshold(chosen.threshold, model.pointer.threshold);
      // One image goes through the batcher, to share a run with concurrent requests; it is reserved before its
      // decode so that a run about to start waits for it. Several images make one batch of their own.
      const reservation = files.length === 1 ? model.batcher.reserve() : undefined;
      const settled = await Promise.allSettled(
        files.map((file) => this.#decode(file, model.pointer.inputSize, model.resize)),
      );
      // Anything but a bad image (a bug, a failed budget) fails the request; so does any bad image when strict.
      const fatal = settled.find(
        (outcome): outcome is PromiseRejectedResult =>
          outcome.status === 'rejected' && (strict || !(outcome.reason instanceof ImageRejectedError)),
      );
      const decoded = settled.flatMap((outcome, i) =>
        outcome.status === 'fulfilled' ? [{ i, ...outcome.value }] : [],
      );
      if (fatal || decoded.length === 0) reservation?.cancel();
      if (fatal) throw fatal.reason;
      const inferenceStart = performance.now();
      const rows =
        decoded.length === 0
          ? []
          : reservation
            ? [await reservation.submit(decoded[0]!.view.data)]
            : await model.batcher.run(decoded.map((d) => d.view.data));
      const inferenceEnd = performance.now();
      const inference = decoded.length === 0 ? 0 : inferenceEnd - inferenceStart;
      const results: (ImageResult | RejectedImage)[] = settled.map((outcome, i) => {
        const names = fileNames(files[i]!);
        if (outcome.status === 'rejected') return { ...names, error: outcome.reason as ImageRejectedError };
        return {
          ...names,
          predictions: topPredictions(rows[decoded.findIndex((d) => d.i === i)]!, model.labels, {
            top: chosen.top,
            ...(threshold !== undefined ? { threshold } : {}),
          }),
          timingInMs: {
            decode: round(outcome.value.end - outcome.value.begin),
            wait: round(Math.max(0, inferenceStart - outcome.value.end)),
            inference: round(inference),
            total: round(inferenceEnd - started),
          },
        };
      });
      const decodeStart = Math.min(...decoded.map((d) => d.begin));
      const decodeEnd = Math.max(...decoded.map((d) => d.end));
      return {
        dataset,
        modelVersion: model.version,
        task,
        ...(threshold !== undefined ? { threshold } : {}),
        labels: model.labels,
        results,
        timingInMs: {
          decode: round(decoded.length === 0 ? 0 : decodeEnd - decodeStart),
          inference: round(inference),
          total: round(performance.now() - started),
        },
      };
    } finally {
      lease.release();
    }
  }

  /** The dataset's model, or NotFoundError when the dataset does not exist at all (rather than "not trained yet"). */
  async #acquire(dataset: string): ReturnType<ModelCache['acquire']> {
    try {
      return await this.cache.acquire(dataset);
    } catch (error) {
      // No model and no catalog entry either: the dataset does not exist, rather than "not trained yet".
      if (error instanceof NoModelError && !(await this.options.catalog.getStats(dataset))) {
        throw new NotFoundError(`dataset "${dataset}" does not exist`);
      }
      throw error;
    }
  }

  /** Ingest's header checks, then one decode: the trainer's own preprocessing, which refuses damaged data. */
  async #decode(
    file: UploadedFile,
    size: number,
    resize: ViewResize,
  ): Promise<{ view: ImageView; begin: number; end: number }> {
    const begin = performance.now();
    if (file.rejected) throw file.rejected;
    const header = await checkImageHeader(file.content, this.ingest);
    let view;
    try {
      const render = () => renderView(file.content, { size, resize });
      const { pixelBudget } = this.options;
      view = pixelBudget ? await pixelBudget.run(header.width * header.height, render) : await render();
    } catch (error) {
      throw new ImageRejectedError(
        'corrupt-image',
        `the ${header.format.toUpperCase()} data cannot be decoded: ${messageOf(error)}`,
      );
    }
    return { view, begin, end: performance.now() };
  }
}

/** Whether a result of classifyEach() is a bad image rather than predictions. */
export function isRejected(result: ImageResult | RejectedImage): result is RejectedImage {
  return 'error' in result;
}

function fileNames(file: UploadedFile): { fileName?: string; field?: string } {
  return {
    ...(file.field !== undefined ? { field: file.field } : {}),
    ...(file.fileName !== undefined ? { fileName: file.fileName } : {}),
  };
}

/** The `top` most probable labels; with a threshold (multi-label models), only those at or above it. */
export function topPredictions(
  probabilities: Float32Array,
  labels: readonly string[],
  options: ClassifyOptions,
): Prediction[] {
  // Compared in float32, the probabilities' own precision: a threshold of 0.45 keeps a probability of float32(0.45).
  const threshold = options.threshold === undefined ? undefined : Math.fround(options.threshold);
  return Array.from(probabilities, (probability, i) => ({ label: labels[i] ?? `#${i}`, probability }))
    .filter((prediction) => threshold === undefined || prediction.probability >= threshold)
    .sort((a, b) => b.probability - a.probability)
    .slice(0, options.top);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

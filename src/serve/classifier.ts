// Classifies images with a dataset's current model: the ingest's validation (same reasons, same pixel
// limits), then exactly the trainer's preprocessing (renderView's plain view with the model's resize), then the
// fused model (backbone + head + softmax, or sigmoid for multi-label models), which outputs probabilities.
import type { IngestSettings } from '../config';
import type { Catalog } from '../dataset/catalog';
import { checkImageHeader, ImageRejectedError } from '../dataset/validate';
import { NotFoundError } from '../errors';
import type { ViewResize } from '../image/preprocessing';
import { type ImageView, renderView } from '../image/view';
import type { ModelTask } from '../train/models';
import { TASKS } from '../train/task';
import type { PixelBudget } from '../util/pixelBudget';
import { type ModelCache, NoModelError } from './modelCache';
import type { UploadedFile } from './uploadedFile';

export interface Prediction {
  label: string;
  probability: number;
}

export interface Timing {
  decode: number;
  inference: number;
  total: number;
}

export interface ImageResult {
  fileName?: string;
  predictions: Prediction[];
  timingInMs: Timing;
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

export interface ClassifyOutcome {
  dataset: string;
  modelVersion: string;
  task: ModelTask;
  /** Multi-label models: the threshold applied. */
  threshold?: number;
  labels: string[];
  results: ImageResult[];
  timingInMs: Timing;
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

  /**
   * The model is acquired first, before any decoding: NotFoundError for a dataset that does not exist, NoModelError
   * for one not trained yet. Each image is then validated (ImageRejectedError).
   */
  async classify(
    dataset: string,
    files: UploadedFile[],
    options: (model: ServedModelInfo) => ClassifyOptions,
  ): Promise<ClassifyOutcome> {
    const started = performance.now();
    const lease = await this.#acquire(dataset);
    try {
      const { model } = lease;
      const task = model.pointer.task;
      const chosen = options({ task, labels: model.labels });
      const threshold = TASKS[task].servingThreshold(chosen.threshold, model.pointer.threshold);
      // One image goes through the batcher, to share a run with concurrent requests; it is reserved before its
      // decode so that a run about to start waits for it. Several images make one batch of their own.
      const reservation = files.length === 1 ? model.batcher.reserve() : undefined;
      let views: { view: ImageView; decode: number }[];
      try {
        views = await Promise.all(files.map((file) => this.#decode(file, model.pointer.inputSize, model.resize)));
      } catch (error) {
        reservation?.cancel();
        throw error;
      }
      const inferenceStart = performance.now();
      const rows = reservation
        ? [await reservation.submit(views[0]!.view.data)]
        : await model.batcher.run(views.map((v) => v.view.data));
      const inference = performance.now() - inferenceStart;
      const total = performance.now() - started;
      const results = rows.map((row, i): ImageResult => {
        const result: ImageResult = {
          predictions: topPredictions(row, model.labels, {
            top: chosen.top,
            ...(threshold !== undefined ? { threshold } : {}),
          }),
          timingInMs: {
            decode: round(views[i]!.decode),
            inference: round(inference / rows.length),
            total: round(total / rows.length),
          },
        };
        if (files[i]!.fileName !== undefined) result.fileName = files[i]!.fileName;
        return result;
      });
      const decode = views.reduce((sum, v) => sum + v.decode, 0);
      return {
        dataset,
        modelVersion: model.version,
        task,
        ...(threshold !== undefined ? { threshold } : {}),
        labels: model.labels,
        results,
        timingInMs: { decode: round(decode), inference: round(inference), total: round(total) },
      };
    } finally {
      lease.release();
    }
  }

  /** Ingest's header checks, then one decode: the trainer's own preprocessing, which refuses damaged data. */
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

  async #decode(file: UploadedFile, size: number, resize: ViewResize): Promise<{ view: ImageView; decode: number }> {
    const begin = performance.now();
    const header = await checkImageHeader(file.content, this.ingest);
    let view;
    try {
      const render = () => renderView(file.content, { size, resize });
      const { pixelBudget } = this.options;
      view = pixelBudget ? await pixelBudget.run(header.width * header.height, render) : await render();
    } catch (error) {
      throw new ImageRejectedError(
        'corrupt-image',
        `the ${header.format.toUpperCase()} data cannot be decoded: ${(error as Error).message}`,
      );
    }
    return { view, decode: performance.now() - begin };
  }
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

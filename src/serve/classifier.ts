// Classifies images with a dataset's current model: the ingest's validation (same reasons, same pixel
// limits), then exactly the trainer's preprocessing (renderView with the identity augmentation), then the
// fused model (backbone + head + softmax), which outputs probabilities.
import type { IngestSettings } from '../config';
import { checkImageHeader, ImageRejectedError } from '../dataset/validate';
import { IDENTITY_AUGMENTATION, renderView } from '../train/augment';
import type { ModelCache } from './modelCache';
import type { UploadedFile } from './request';

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
  top: number;
  /**
   * For multi-label models (probabilities per label, not summing to 1): keep labels at or above it. The trainer
   * makes single-label models only, for which it is accepted and ignored (top N is the answer).
   */
  threshold?: number;
}

export interface ClassifyOutcome {
  dataset: string;
  modelVersion: string;
  labels: string[];
  results: ImageResult[];
  timingInMs: Timing;
}

const INPUT_SIZE = 224;

export class Classifier {
  constructor(
    private readonly cache: ModelCache,
    private readonly ingest: IngestSettings,
  ) {}

  /** The model is acquired first (NoModelError before any decoding); each image is validated (ImageRejectedError). */
  async classify(dataset: string, files: UploadedFile[], options: (labelCount: number) => ClassifyOptions): Promise<ClassifyOutcome> {
    const started = performance.now();
    const lease = await this.cache.acquire(dataset);
    try {
      const { model } = lease;
      const chosen = options(model.labels.length);
      const views = await Promise.all(
        files.map(async (file) => {
          const begin = performance.now();
          // Ingest's header checks, then one decode: the trainer's own preprocessing, which refuses damaged data.
          const header = await checkImageHeader(file.content, this.ingest);
          let view;
          try {
            view = await renderView(file.content, IDENTITY_AUGMENTATION, INPUT_SIZE);
          } catch (error) {
            throw new ImageRejectedError('corrupt-image', `the ${header.format.toUpperCase()} data cannot be decoded: ${(error as Error).message}`);
          }
          return { view, decode: performance.now() - begin };
        }),
      );
      const inferenceStart = performance.now();
      // One image: through the batcher, to share a run with concurrent requests. Several: one batch of their own.
      const rows = views.length === 1 ? [await model.batcher.submit(views[0]!.view.data)] : await model.batcher.run(views.map((v) => v.view.data));
      const inference = performance.now() - inferenceStart;
      const total = performance.now() - started;
      const results = rows.map((row, i): ImageResult => {
        const result: ImageResult = {
          predictions: topPredictions(row, model.labels, chosen),
          timingInMs: { decode: round(views[i]!.decode), inference: round(inference / rows.length), total: round(total / rows.length) },
        };
        if (files[i]!.fileName !== undefined) result.fileName = files[i]!.fileName;
        return result;
      });
      const decode = views.reduce((sum, v) => sum + v.decode, 0);
      return { dataset, modelVersion: model.version, labels: model.labels, results, timingInMs: { decode: round(decode), inference: round(inference), total: round(total) } };
    } finally {
      lease.release();
    }
  }
}

export function topPredictions(probabilities: Float32Array, labels: readonly string[], options: ClassifyOptions): Prediction[] {
  return Array.from(probabilities, (probability, i) => ({ label: labels[i] ?? `#${i}`, probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, options.top);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

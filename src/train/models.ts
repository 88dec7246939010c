// Published models: every trained version keeps its files under models/{dataset}/{version}/, and the
// dataset's current-model pointer (models/{dataset}/current.json) moves only to a model at least as good on
// the test split, or when forced; the move is a conditional write, so two jobs cannot both win.
import type { ContainerClient } from '@azure/storage-blob';
import { isStatus } from '../storage/tables';
import type { ViewResize } from './preprocessing';

export const MODELS_CONTAINER = 'models';
const POINTER = 'current.json';

export type ModelTask = 'single-label' | 'multi-label';

export interface ModelPointer {
  version: string;
  jobId: string;
  task: ModelTask;
  /** The backbone inside the model, and the side of the square input it takes (the classifier renders to it). */
  backbone: string;
  inputSize: number;
  /** How the classifier renders an image (absent in models published before it was recorded: squash). */
  resize?: ViewResize;
  /**
   * On the test split: top-1 accuracy (single-label), or the share of images whose whole label set is right at
   * `threshold` (multi-label). Single-label models are compared by it.
   */
  accuracy: number;
  /** Multi-label: mean average precision on the test split, which multi-label models are compared by. */
  mAP?: number;
  /** Multi-label: a label is predicted when its probability is at least this (chosen by the trainer). */
  threshold?: number;
  testImages: number;
  labels: string[];
  publishedAt: string;
}

/** The figure two models of one task are compared by, with its name. */
function qualityOf(pointer: ModelPointer): { name: string; value: number } {
  return pointer.task === 'multi-label' ? { name: 'test mAP', value: pointer.mAP ?? 0 } : { name: 'test accuracy', value: pointer.accuracy };
}

export interface PromotionResult {
  promoted: boolean;
  /** Why (not): a sentence for the job report. */
  note: string;
  previous?: ModelPointer;
}

export class ModelRegistry {
  constructor(private readonly container: ContainerClient) {}

  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  /** Uploads a version's files (model.onnx, metrics.json, plots, log). */
  async storeVersion(dataset: string, version: string, files: Record<string, Buffer | string>): Promise<void> {
    await Promise.all(
      Object.entries(files).map(([name, content]) => {
        const body = typeof content === 'string' ? Buffer.from(content) : content;
        return this.container.getBlockBlobClient(`${dataset}/${version}/${name}`).uploadData(body, {
          blobHTTPHeaders: { blobContentType: contentType(name) },
        });
      }),
    );
  }

  async current(dataset: string): Promise<{ pointer: ModelPointer; etag: string } | undefined> {
    try {
      const response = await this.container.getBlockBlobClient(`${dataset}/${POINTER}`).download();
      const chunks: Buffer[] = [];
      for await (const chunk of response.readableStreamBody!) chunks.push(Buffer.from(chunk as Buffer));
      return { pointer: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ModelPointer, etag: response.etag! };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Makes `candidate` the current model if it is at least as good as the current one (or `force`). */
  async promote(dataset: string, candidate: ModelPointer, options: { force: boolean }): Promise<PromotionResult> {
    const ours = qualityOf(candidate);
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.current(dataset);
      const theirs = current ? qualityOf(current.pointer) : undefined;
      // A dataset that became multi-label (or stopped being) has no comparable model: the new task's first one wins.
      const comparable = current !== undefined && current.pointer.task === candidate.task;
      const worse = comparable && ours.value < theirs!.value;
      if (current && !options.force && worse) {
        return {
          promoted: false,
          previous: current.pointer,
          note: `not published: ${ours.name} ${percent(ours.value)} is below the current model's ${percent(theirs!.value)} (version ${current.pointer.version}); train with force to publish anyway`,
        };
      }
      const body = JSON.stringify(candidate, null, 2);
      try {
        await this.container.getBlockBlobClient(`${dataset}/${POINTER}`).upload(body, Buffer.byteLength(body), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
          conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
        });
      } catch (error) {
        // Another job moved the pointer since we read it: compare again with what it holds now.
        if (isStatus(error, 412) || isStatus(error, 409)) continue;
        throw error;
      }
      const note = !current
        ? `published: the dataset's first model, ${ours.name} ${percent(ours.value)}`
        : comparable
          ? `published: ${ours.name} ${percent(ours.value)} against ${percent(theirs!.value)} of version ${current.pointer.version}${worse ? ' (forced)' : ''}`
          : `published: the dataset's first ${candidate.task} model, ${ours.name} ${percent(ours.value)} (version ${current.pointer.version} was ${current.pointer.task})`;
      return { promoted: true, note, ...(current ? { previous: current.pointer } : {}) };
    }
    throw new Error(`the current-model pointer of "${dataset}" kept changing; try again`);
  }
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

function contentType(name: string): string {
  if (name.endsWith('.json')) return 'application/json';
  if (name.endsWith('.svg')) return 'image/svg+xml';
  if (name.endsWith('.png')) return 'image/png';
  if (name.endsWith('.onnx')) return 'application/octet-stream';
  return 'text/plain; charset=utf-8';
}

// Published models: every trained version keeps its files under models/{dataset}/{version}/, and the
// dataset's current-model pointer (models/{dataset}/current.json) moves only to a model at least as good on
// the test split, or when forced; the move is a conditional write, so two jobs cannot both win.
import type { ContainerClient } from '@azure/storage-blob';
import { isStatus } from '../storage/tables';

export const MODELS_CONTAINER = 'models';
const POINTER = 'current.json';

export interface ModelPointer {
  version: string;
  jobId: string;
  /** Accuracy on the test split; higher is better. */
  accuracy: number;
  testImages: number;
  labels: string[];
  publishedAt: string;
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
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.current(dataset);
      if (current && !options.force && candidate.accuracy < current.pointer.accuracy) {
        return {
          promoted: false,
          previous: current.pointer,
          note: `not published: test accuracy ${percent(candidate.accuracy)} is below the current model's ${percent(current.pointer.accuracy)} (version ${current.pointer.version}); train with force to publish anyway`,
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
      const note = current
        ? `published: test accuracy ${percent(candidate.accuracy)} against ${percent(current.pointer.accuracy)} of version ${current.pointer.version}${options.force && candidate.accuracy < current.pointer.accuracy ? ' (forced)' : ''}`
        : `published: the dataset's first model, test accuracy ${percent(candidate.accuracy)}`;
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

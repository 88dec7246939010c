// Published models: every trained version keeps its files under models/{dataset}/{version}/, and the
// dataset's current-model pointer (models/{dataset}/current.json) moves only to a model at least as good on
// the test split, or when forced; the move is a conditional write, so two jobs cannot both win. The registry is
// the only code that reads or writes the `models` container, and it does so through the contract's schemas.
import type { ContainerClient } from '@azure/storage-blob';

import type { Catalog } from '../dataset/catalog';
import { assertDatasetName } from '../dataset/names';
import { InvalidArgumentError, NotFoundError, StateConflictError } from '../errors';
import { MODELS_CONTAINER } from '../storage/names';
import { isStatus } from '../storage/tables';
import { isTimeSortableId } from '../util/ids';
import {
  formatPublished,
  type ModelMetrics,
  modelMetricsSchema,
  type ModelPointer,
  type ModelPointerInput,
  modelPointerSchema,
  parsePublished,
  type TrainJob,
} from './published';

export type { ModelPointer, ModelPointerInput, ModelTask } from './published';

const POINTER = 'current.json';
const METRICS = 'metrics.json';

/** The figure two models of one task are compared by, with its name. */
function qualityOf(pointer: ModelPointer): { name: string; value: number } {
  return pointer.task === 'multi-label'
    ? { name: 'test mAP', value: pointer.mAP ?? 0 }
    : { name: 'test accuracy', value: pointer.accuracy };
}

export interface PromotionResult {
  promoted: boolean;
  /** Why (not): a sentence for the job report. */
  note: string;
  previous?: ModelPointer;
}

export interface StoredModelVersion {
  version: string;
  serving: boolean;
  storedAt?: string;
  /** From metrics.json (absent when the version has none); accuracy is top-1, or exact label sets at the threshold for multi-label models. */
  metrics?: {
    task?: string;
    accuracy?: number;
    mAP?: number;
    threshold?: number;
    count?: number;
    macroF1?: number;
    topK?: Record<string, number>;
    labels?: string[];
  };
}

export interface ModelList {
  dataset: string;
  /** The pointer: the version that serves, or null before the first model. */
  serving: Pick<
    ModelPointer,
    'version' | 'task' | 'backbone' | 'inputSize' | 'accuracy' | 'mAP' | 'threshold' | 'publishedAt' | 'labels'
  > | null;
  versions: StoredModelVersion[];
}

/** One file of a stored version, as the version's detail lists it. */
export interface StoredModelFile {
  name: string;
  contentType: string;
  sizeInBytes: number;
}

/** A stored version in full: its summary, every file it holds, and its whole metrics.json. */
export interface ModelVersionDetail extends StoredModelVersion {
  dataset: string;
  files: StoredModelFile[];
  /** metrics.json as published (absent when the version has none). */
  metricsFile?: ModelMetrics;
}

/** A version's file opened for reading: its bytes as a stream and what an HTTP answer says about them. */
export interface ModelFileStream {
  stream: NodeJS.ReadableStream;
  contentType: string;
  sizeInBytes: number;
  etag: string;
  lastModified?: Date;
}

/** Version folders and file names are single path segments: anything else could reach another blob. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function assertSegment(value: string, what: 'version' | 'file name'): string {
  if (!SEGMENT.test(value) || value.includes('..'))
    throw new InvalidArgumentError(
      `${what} "${value}" is not valid: 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  return value;
}

export class ModelRegistry {
  constructor(private readonly container: ContainerClient) {}

  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  /**
   * Uploads a version's files (model.onnx, metrics.json, plots, log); metrics.json is checked against the contract
   * first, so a version is never stored with a file its readers would refuse.
   */
  async storeVersion(dataset: string, version: string, files: Record<string, Buffer | string>): Promise<void> {
    const metrics = files[METRICS];
    if (metrics !== undefined) {
      const file = `${MODELS_CONTAINER}/${dataset}/${version}/${METRICS}`;
      files = {
        ...files,
        [METRICS]: formatPublished(modelMetricsSchema, parsePublished(modelMetricsSchema, metrics, file), file),
      };
    }
    await Promise.all(
      Object.entries(files).map(([name, content]) => {
        const body = typeof content === 'string' ? Buffer.from(content) : content;
        return this.container.getBlockBlobClient(`${dataset}/${version}/${name}`).uploadData(body, {
          blobHTTPHeaders: { blobContentType: contentType(name) },
        });
      }),
    );
  }

  /** The dataset's current-model pointer with its ETag, or undefined before the first model. */
  async current(dataset: string): Promise<{ pointer: ModelPointer; etag: string } | undefined> {
    try {
      const response = await this.container.getBlockBlobClient(`${dataset}/${POINTER}`).download();
      const chunks: Buffer[] = [];
      for await (const chunk of response.readableStreamBody!) chunks.push(Buffer.from(chunk as Buffer));
      const pointer = parsePublished(
        modelPointerSchema,
        Buffer.concat(chunks),
        `${MODELS_CONTAINER}/${dataset}/${POINTER}`,
      );
      return { pointer, etag: response.etag! };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** The current pointer's ETag alone (a properties read: how serving notices a new version cheaply). */
  async currentETag(dataset: string): Promise<string | undefined> {
    try {
      return (await this.container.getBlockBlobClient(`${dataset}/${POINTER}`).getProperties()).etag;
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** The datasets that have a current model, the most recently published first. */
  async publishedDatasets(): Promise<string[]> {
    const found: { dataset: string; publishedAtMs: number }[] = [];
    // Pointers sit one level down (`<dataset>/current.json`): one read per dataset folder.
    for await (const folder of this.container.listBlobsByHierarchy('/')) {
      if (folder.kind !== 'prefix') continue;
      const dataset = folder.name.replace(/\/$/, '');
      const current = await this.current(dataset);
      if (current) found.push({ dataset, publishedAtMs: Date.parse(current.pointer.publishedAt) || 0 });
    }
    return found.sort((a, b) => b.publishedAtMs - a.publishedAtMs).map((entry) => entry.dataset);
  }

  /** A stored version's fused ONNX model. */
  async readModel(dataset: string, version: string): Promise<Buffer> {
    return this.container.getBlockBlobClient(`${dataset}/${version}/model.onnx`).downloadToBuffer();
  }

  /** Makes the `proposed` model current if it is at least as good as the current one (or `force`). */
  async promote(dataset: string, proposed: ModelPointerInput, options: { force: boolean }): Promise<PromotionResult> {
    const file = `${MODELS_CONTAINER}/${dataset}/${POINTER}`;
    const body = formatPublished(modelPointerSchema, proposed, file);
    const candidate = parsePublished(modelPointerSchema, body, file);
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

  /**
   * The versions stored under models/{dataset}/ (newest first) with their metrics summary, and which one serves;
   * a dataset with neither models nor images in the catalog does not exist.
   */
  async list(dataset: string, catalog: Pick<Catalog, 'getStats'>): Promise<ModelList> {
    assertDatasetName(dataset);
    const [current, prefixes] = await Promise.all([this.current(dataset), this.#versionPrefixes(dataset)]);
    if (prefixes.length === 0 && !current && !(await catalog.getStats(dataset)))
      throw new NotFoundError(`dataset "${dataset}" does not exist`);
    const versions = await Promise.all(
      prefixes.map((version) => this.#storedVersion(dataset, version, current?.pointer.version === version)),
    );
    versions.sort((a, b) => (b.storedAt ?? '').localeCompare(a.storedAt ?? '') || b.version.localeCompare(a.version));
    const pointer = current?.pointer;
    return {
      dataset,
      serving: pointer
        ? {
            version: pointer.version,
            task: pointer.task,
            backbone: pointer.backbone,
            inputSize: pointer.inputSize,
            accuracy: pointer.accuracy,
            ...(pointer.mAP !== undefined ? { mAP: pointer.mAP } : {}),
            ...(pointer.threshold !== undefined ? { threshold: pointer.threshold } : {}),
            publishedAt: pointer.publishedAt,
            labels: pointer.labels,
          }
        : null,
      versions,
    };
  }

  /** One stored version: its summary, its files and its whole metrics.json; 404 for a version not stored. */
  async version(dataset: string, version: string): Promise<ModelVersionDetail> {
    assertDatasetName(dataset);
    assertSegment(version, 'version');
    const files: StoredModelFile[] = [];
    for await (const blob of this.container.listBlobsFlat({ prefix: `${dataset}/${version}/` })) {
      files.push({
        name: blob.name.slice(dataset.length + version.length + 2),
        contentType: blob.properties.contentType ?? contentType(blob.name),
        sizeInBytes: blob.properties.contentLength ?? 0,
      });
    }
    if (files.length === 0) throw new NotFoundError(`dataset "${dataset}" has no model version "${version}"`);
    const current = await this.current(dataset);
    const summary = await this.#storedVersion(dataset, version, current?.pointer.version === version);
    const detail: ModelVersionDetail = {
      dataset,
      ...summary,
      files: files.sort((a, b) => a.name.localeCompare(b.name)),
    };
    if (files.some((file) => file.name === METRICS)) {
      const path = `${dataset}/${version}/${METRICS}`;
      const content = await this.container.getBlockBlobClient(path).downloadToBuffer();
      detail.metricsFile = parsePublished(modelMetricsSchema, content, `${MODELS_CONTAINER}/${path}`);
    }
    return detail;
  }

  /** A version's file (model.onnx, metrics.json, a plot, training.log) as a stream; 404 when it has none. */
  async openFile(dataset: string, version: string, name: string): Promise<ModelFileStream> {
    assertDatasetName(dataset);
    assertSegment(version, 'version');
    assertSegment(name, 'file name');
    try {
      const response = await this.container.getBlockBlobClient(`${dataset}/${version}/${name}`).download();
      return {
        stream: response.readableStreamBody!,
        contentType: response.contentType ?? contentType(name),
        sizeInBytes: response.contentLength ?? 0,
        etag: response.etag!,
        ...(response.lastModified ? { lastModified: response.lastModified } : {}),
      };
    } catch (error) {
      if (isStatus(error, 404))
        throw new NotFoundError(`model version "${version}" of dataset "${dataset}" has no file "${name}"`);
      throw error;
    }
  }

  /**
   * Deletes a stored version and its files. The serving version cannot go (409: publish another first), nor one
   * whose training job is still queued or running (`jobs`: it may be storing or publishing it); a version not stored
   * is a 404.
   */
  async deleteVersion(
    dataset: string,
    version: string,
    jobs?: { get(dataset: string, jobId: string): Promise<Pick<TrainJob, 'status'>> },
  ): Promise<{ dataset: string; version: string; files: number }> {
    assertDatasetName(dataset);
    assertSegment(version, 'version');
    if (jobs && isTimeSortableId(version)) {
      const job = await jobs.get(dataset, version).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
      if (job && (job.status === 'queued' || job.status === 'running'))
        throw new StateConflictError(
          `model version "${version}" belongs to a training job that is still ${job.status}`,
        );
    }
    const current = await this.current(dataset);
    if (current?.pointer.version === version)
      throw new StateConflictError(
        `model version "${version}" serves dataset "${dataset}"; it can be deleted once another version is current`,
      );
    const names: string[] = [];
    for await (const blob of this.container.listBlobsFlat({ prefix: `${dataset}/${version}/` })) names.push(blob.name);
    if (names.length === 0) throw new NotFoundError(`dataset "${dataset}" has no model version "${version}"`);
    await Promise.all(names.map((name) => this.container.getBlockBlobClient(name).deleteIfExists()));
    return { dataset, version, files: names.length };
  }

  async #storedVersion(dataset: string, version: string, serving: boolean): Promise<StoredModelVersion> {
    const blob = this.container.getBlockBlobClient(`${dataset}/${version}/${METRICS}`);
    const entry: StoredModelVersion = { version, serving };
    try {
      const [content, properties] = await Promise.all([blob.downloadToBuffer(), blob.getProperties()]);
      if (properties.lastModified) entry.storedAt = properties.lastModified.toISOString();
      const metrics = parsePublished(
        modelMetricsSchema,
        content,
        `${MODELS_CONTAINER}/${dataset}/${version}/${METRICS}`,
      );
      const accuracy = metrics.accuracy ?? metrics.zeroOneAccuracy;
      entry.metrics = {
        ...(metrics.task !== undefined ? { task: metrics.task } : {}),
        ...(accuracy !== undefined ? { accuracy } : {}),
        ...(typeof metrics.mAP === 'number' ? { mAP: metrics.mAP } : {}),
        ...(metrics.task === 'multi-label' && metrics.threshold !== undefined ? { threshold: metrics.threshold } : {}),
        ...(metrics.count !== undefined ? { count: metrics.count } : {}),
        ...(typeof metrics.macro?.f1 === 'number' ? { macroF1: metrics.macro.f1 } : {}),
        ...(metrics.topK ? { topK: metrics.topK } : {}),
        ...(metrics.labels ? { labels: metrics.labels } : {}),
      };
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    return entry;
  }

  async #versionPrefixes(dataset: string): Promise<string[]> {
    const versions: string[] = [];
    for await (const item of this.container.listBlobsByHierarchy('/', { prefix: `${dataset}/` })) {
      if (item.kind === 'prefix') versions.push(item.name.slice(dataset.length + 1).replace(/\/$/, ''));
    }
    return versions;
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

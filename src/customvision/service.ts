// Custom Vision's training and prediction operations, answered by the app: a project is a dataset (created with
// it), a tag a label, an iteration a training job (and the model version it publishes), a published name a pointer
// from a name to an iteration. Uploads go through ingest (validation, exact and near duplicates, the split),
// training through the train queue and its job store, prediction through the classifier (or, for an iteration
// that no longer serves the app's own /classify, through that version's model, rendered the same way).
import { randomBytes } from 'node:crypto';

import type { ContainerClient } from '@azure/storage-blob';

import { sniffImageFormat } from '../collect/download';
import type { DownloadedImage } from '../collect/types';
import type { IngestSettings } from '../config';
import type { Catalog, ImageRecord } from '../dataset/catalog';
import type { Ingestor } from '../dataset/ingest';
import { labelFolderFor, labelsOf } from '../dataset/names';
import { InvalidArgumentError, NotFoundError } from '../errors';
import type { Classifier } from '../serve/classifier';
import type { UploadedFile } from '../serve/uploadedFile';
import { incomingBlobName } from '../storage/names';
import { currentJob, requestTraining, type Training } from '../train/requests';
import { CustomVisionError, imageCreateStatusFor, notFound, notSupported } from './errors';
import { datasetNameFor, imageUuid, labelForTag, newId, parseId, sameSecret } from './ids';
import type { IterationModels } from './iterationModels';
import { type IterationPerformance, iterationPerformance } from './performance';
import type { ClassificationType, ProjectStore, StoredIteration, StoredProject, StoredTag } from './store';

/** Custom Vision's General (classification) domain: the one this app trains for. */
export const GENERAL_DOMAIN_ID = 'ee85a74c-405e-4adc-bb47-ffa8ca0c9f31';

/** Custom Vision's limit per prediction image. */
export const PREDICTION_MAX_BYTES = 4 * 1024 * 1024;

/** Custom Vision's limit of images per upload call. */
export const MAX_IMAGES_PER_BATCH = 64;

export interface CustomVisionDeps {
  store: ProjectStore;
  catalog: Catalog;
  ingestor: Ingestor;
  incoming: ContainerClient;
  training: Training;
  classifier: Classifier;
  iterationModels: IterationModels;
  ingest: IngestSettings;
  /** Fetches an image by URL through the safe downloader (its SSRF guard, size and time limits); `maxBytes` caps it. */
  download: (url: string, maxBytes: number) => Promise<DownloadedImage>;
  /** Reads a catalog image's bytes. */
  readImage: (container: string, blobName: string) => Promise<Buffer>;
}

/** Where absolute links (originalImageUri, downloadUri) point: the app's origin as the request reached it. */
export interface LinkBase {
  origin: string;
}

/** One image to create, with its tags and where it came from. */
export interface NewImage {
  content: Buffer;
  tagIds: string[];
  sourceUrl?: string;
  /** Refused while reading (over the size limit), or a URL that could not be fetched. */
  failed?: string;
}

export interface ImageCreateResult {
  sourceUrl: string | null;
  status: string;
  image?: WireImage;
}

export interface WireImage {
  id: string;
  created: string;
  width: number;
  height: number;
  resizedImageUri: string;
  thumbnailUri: string;
  originalImageUri: string;
  tags: { tagId: string; tagName: string; created: string }[];
  regions: never[];
  metadata: Record<string, string>;
}

export interface PredictionAnswer {
  id: string;
  project: string;
  iteration: string;
  created: string;
  predictions: { probability: number; tagId: string; tagName: string; tagType: 'Regular' }[];
}

function wireProject(project: StoredProject): Record<string, unknown> {
  return {
    id: project.id,
    name: project.name,
    description: project.description,
    settings: {
      domainId: project.domainId,
      classificationType: project.classificationType,
      targetExportPlatforms: project.targetExportPlatforms,
      useNegativeSet: false,
      detectionParameters: null,
      imageProcessingSettings: { augmentationMethods: {} },
      exportModelContainerUri: null,
      notificationQueueUri: null,
    },
    created: project.created,
    lastModified: project.lastModified,
    thumbnailUri: null,
    drModeEnabled: false,
    status: 'Succeeded',
  };
}

function wireIteration(project: StoredProject, iteration: StoredIteration): Record<string, unknown> {
  const minutes =
    iteration.trainedAt !== undefined
      ? Math.max(1, Math.round((Date.parse(iteration.trainedAt) - Date.parse(iteration.created)) / 60_000))
      : 0;
  return {
    id: iteration.id,
    name: iteration.name,
    status: iteration.status,
    created: iteration.created,
    lastModified: iteration.trainedAt ?? iteration.created,
    trainedAt: iteration.trainedAt ?? null,
    projectId: project.id,
    exportable: iteration.status === 'Completed',
    exportableTo: iteration.status === 'Completed' ? ['ONNX'] : [],
    domainId: project.domainId,
    classificationType: project.classificationType,
    trainingType: 'Regular',
    reservedBudgetInHours: 0,
    trainingTimeInMinutes: minutes,
    publishName: iteration.publishName ?? null,
    originalPublishResourceId: iteration.publishName ? (iteration.predictionResourceId ?? null) : null,
    customBaseModelInfo: null,
    trainingErrorDetails: iteration.trainingErrorDetails ?? null,
  };
}

export class CustomVision {
  constructor(private readonly deps: CustomVisionDeps) {}

  // Projects

  async createProject(query: URLSearchParams): Promise<Record<string, unknown>> {
    const name = (query.get('name') ?? '').trim();
    if (!name) throw new CustomVisionError(400, 'BadRequestProjectName', 'a project needs a name (?name=)');
    const classificationType = parseClassificationType(query.get('classificationType'));
    const id = newId();
    const now = new Date().toISOString();
    const project: StoredProject = {
      id,
      name,
      description: query.get('description') || null,
      domainId: query.get('domainId') ? parseId(query.get('domainId'), 'domainId') : GENERAL_DOMAIN_ID,
      classificationType,
      targetExportPlatforms: (query.get('targetExportPlatforms') ?? '').split(',').filter((p) => p !== ''),
      created: now,
      lastModified: now,
      dataset: datasetNameFor(name, id),
      linkToken: randomBytes(24).toString('hex'),
      tags: [],
      iterations: [],
    };
    await this.deps.store.create(project);
    return wireProject(project);
  }

  async getProjects(): Promise<Record<string, unknown>[]> {
    return (await this.deps.store.list()).map(wireProject);
  }

  async getProject(projectId: string): Promise<Record<string, unknown>> {
    return wireProject(await this.deps.store.get(projectId));
  }

  /** Deletes the project and its mapping; its dataset, images and models stay in the app. */
  async deleteProject(projectId: string): Promise<void> {
    await this.deps.store.delete(projectId);
  }

  /** The project's mapping (the CLI and tests read which dataset it is). */
  project(projectId: string): Promise<StoredProject> {
    return this.deps.store.get(projectId);
  }

  // Tags

  async createTag(projectId: string, query: URLSearchParams): Promise<Record<string, unknown>> {
    const name = (query.get('name') ?? '').trim();
    if (!name) throw new CustomVisionError(400, 'BadRequestTagName', 'a tag needs a name (?name=)');
    const type = query.get('type') ?? 'Regular';
    if (type !== 'Regular') throw notSupported(`a tag of type ${type}`);
    const { result } = await this.deps.store.update(projectId, (project) => {
      if (project.tags.some((tag) => tag.name.toLowerCase() === name.toLowerCase()))
        throw new CustomVisionError(400, 'BadRequestTagNameNotUnique', `the project already has a tag "${name}"`);
      const tag: StoredTag = {
        id: newId(),
        name,
        description: query.get('description') || null,
        label: labelForTag(name, new Set(project.tags.map((t) => t.label.toLowerCase()))),
        created: new Date().toISOString(),
      };
      project.tags.push(tag);
      return tag;
    });
    return this.#wireTag(result, 0);
  }

  async getTags(projectId: string): Promise<Record<string, unknown>[]> {
    const project = await this.deps.store.get(projectId);
    const counts = await this.#labelCounts(project);
    return project.tags.map((tag) => this.#wireTag(tag, counts.get(tag.label) ?? 0));
  }

  async getTag(projectId: string, tagId: string): Promise<Record<string, unknown>> {
    const project = await this.deps.store.get(projectId);
    const tag = findTag(project, tagId);
    return this.#wireTag(tag, (await this.#labelCounts(project)).get(tag.label) ?? 0);
  }

  async deleteTag(projectId: string, tagId: string): Promise<void> {
    const project = await this.deps.store.get(projectId);
    const tag = findTag(project, tagId);
    if (((await this.#labelCounts(project)).get(tag.label) ?? 0) > 0)
      throw notSupported('deleting a tag that images carry (their labels stay in the dataset)');
    await this.deps.store.update(projectId, (stored) => {
      stored.tags = stored.tags.filter((t) => t.id !== tag.id);
    });
  }

  #wireTag(tag: StoredTag, imageCount: number): Record<string, unknown> {
    return { id: tag.id, name: tag.name, description: tag.description, type: 'Regular', imageCount };
  }

  async #labelCounts(project: StoredProject): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const record of await this.#taggedRecords(project))
      for (const label of labelsOf(record.label)) counts.set(label, (counts.get(label) ?? 0) + 1);
    return counts;
  }

  // Images

  /** Creates images through ingest, one after the other; the HTTP status is 200 when all succeeded, else 207. */
  async createImages(
    projectId: string,
    images: NewImage[],
    link: LinkBase,
  ): Promise<{ status: number; body: { isBatchSuccessful: boolean; images: ImageCreateResult[] } }> {
    if (images.length === 0) throw new CustomVisionError(400, 'BadRequestImageBatch', 'the request has no image');
    if (images.length > MAX_IMAGES_PER_BATCH)
      throw new CustomVisionError(
        400,
        'BadRequestExceededBatchSize',
        `at most ${MAX_IMAGES_PER_BATCH} images per call, got ${images.length}`,
      );
    const project = await this.deps.store.get(projectId);
    const results: ImageCreateResult[] = [];
    for (const image of images) results.push(await this.#createImage(project, image, link));
    const isBatchSuccessful = results.every((r) => r.status === 'OK' || r.status === 'OKDuplicate');
    return { status: isBatchSuccessful ? 200 : 207, body: { isBatchSuccessful, images: results } };
  }

  async #createImage(project: StoredProject, image: NewImage, link: LinkBase): Promise<ImageCreateResult> {
    const sourceUrl = image.sourceUrl ?? null;
    if (image.failed) return { sourceUrl, status: image.failed };
    const tags = [...new Set(image.tagIds.map((id) => id.toLowerCase()))].map((id) =>
      project.tags.find((tag) => tag.id === id),
    );
    // The app keeps only labelled images: an untagged one, or one with a tag the project lacks, is refused.
    if (tags.length === 0 || tags.some((tag) => tag === undefined)) return { sourceUrl, status: 'ErrorInvalidTag' };
    if (project.classificationType === 'Multiclass' && tags.length > 1)
      return { sourceUrl, status: 'ErrorTagLimitExceed' };
    const labels = tags.map((tag) => tag!.label);
    const format = sniffImageFormat(image.content);
    const fileName = `${newId()}.${format === 'jpeg' ? 'jpg' : (format ?? 'bin')}`;
    const blobName = incomingBlobName(project.dataset, labelFolderFor(labels), fileName);
    const metadata: Record<string, string> = { source: 'customvision', project: project.id };
    const uploaded = await this.deps.incoming.getBlockBlobClient(blobName).uploadData(image.content, { metadata });
    const outcome = await this.deps.ingestor.ingest({
      blobName,
      content: image.content,
      metadata,
      ...(uploaded.etag ? { etag: uploaded.etag } : {}),
    });
    const found = await this.deps.catalog.getImage(project.dataset, outcome.id);
    if (!found) throw new Error(`ingest recorded no catalog row ${outcome.id}`);
    const { record } = found;
    if (outcome.status === 'rejected') return { sourceUrl, status: imageCreateStatusFor(record.reasonCode) };
    if (outcome.status === 'accepted')
      return { sourceUrl, status: 'OK', image: this.#wireImage(project, { ...record, id: outcome.id }, link) };
    // A duplicate answers the image it duplicates, as Custom Vision does; a near duplicate says so in its metadata.
    const original = record.relatedTo ? await this.deps.catalog.getImage(project.dataset, record.relatedTo) : undefined;
    const shown = original ? { ...original.record, id: record.relatedTo! } : { ...record, id: outcome.id };
    const wire = this.#wireImage(project, shown, link);
    wire.metadata = {
      duplicate: outcome.status === 'nearDuplicate' ? 'near' : 'exact',
      ...(record.relatedTo ? { duplicateOf: imageUuid(project.dataset, record.relatedTo) } : {}),
      ...(record.distanceBits !== undefined ? { distanceBits: String(record.distanceBits) } : {}),
    };
    return { sourceUrl, status: 'OKDuplicate', image: wire };
  }

  /** Images with the tags asked for (any of them; all when none), newest first unless `orderBy=Oldest`. */
  async getTaggedImages(projectId: string, query: URLSearchParams, link: LinkBase): Promise<WireImage[]> {
    if (query.get('iterationId')) throw notSupported('listing the images of an iteration');
    const project = await this.deps.store.get(projectId);
    const records = await this.#filteredRecords(project, query);
    const order = (query.get('orderBy') ?? 'Newest').toLowerCase();
    if (order !== 'newest' && order !== 'oldest') throw notSupported(`orderBy=${query.get('orderBy')}`);
    records.sort((a, b) => a.ingestedAt.localeCompare(b.ingestedAt) || a.id.localeCompare(b.id));
    if (order === 'newest') records.reverse();
    const take = boundedInt(query.get('take'), 50, 0, 256, 'take');
    const skip = boundedInt(query.get('skip'), 0, 0, Number.MAX_SAFE_INTEGER, 'skip');
    return records.slice(skip, skip + take).map((record) => this.#wireImage(project, record, link));
  }

  async getImages(projectId: string, query: URLSearchParams, link: LinkBase): Promise<WireImage[]> {
    const status = (query.get('taggingStatus') ?? 'All').toLowerCase();
    if (status === 'untagged') return [];
    if (query.get('$filter')) throw notSupported('getImages with $filter');
    return this.getTaggedImages(projectId, query, link);
  }

  async getTaggedImageCount(projectId: string, query: URLSearchParams): Promise<number> {
    if (query.get('iterationId')) throw notSupported('counting the images of an iteration');
    const project = await this.deps.store.get(projectId);
    return (await this.#filteredRecords(project, query)).length;
  }

  /** An image's bytes, for the links this app hands out: the project's link token stands in for the key. */
  async originalImage(projectId: string, imageId: string, query: URLSearchParams): Promise<Buffer> {
    const project = await this.deps.store.get(projectId);
    checkLinkToken(project, query.get('token'));
    const catalogId = query.get('image') ?? '';
    if (imageUuid(project.dataset, catalogId) !== imageId)
      throw notFound('NotFoundImage', `image ${imageId} does not exist`);
    const found = await this.deps.catalog.getImage(project.dataset, catalogId);
    if (!found || found.record.status !== 'accepted')
      throw notFound('NotFoundImage', `image ${imageId} does not exist`);
    return this.deps.readImage(found.record.container, found.record.blobName);
  }

  async #taggedRecords(project: StoredProject): Promise<(ImageRecord & { id: string })[]> {
    try {
      return (await this.deps.catalog.listAllImages(project.dataset)).filter(
        (record) => record.status === 'accepted' && !record.excluded,
      );
    } catch (error) {
      if (error instanceof NotFoundError) return [];
      throw error;
    }
  }

  async #filteredRecords(project: StoredProject, query: URLSearchParams): Promise<(ImageRecord & { id: string })[]> {
    const tagIds = (query.get('tagIds') ?? '').split(',').filter((id) => id !== '');
    const labels = new Set(tagIds.map((id) => findTag(project, parseId(id, 'tagId')).label));
    const known = new Set(project.tags.map((tag) => tag.label));
    return (await this.#taggedRecords(project)).filter((record) => {
      const own = labelsOf(record.label);
      return own.some((label) => known.has(label)) && (labels.size === 0 || own.some((label) => labels.has(label)));
    });
  }

  #wireImage(project: StoredProject, record: ImageRecord & { id: string }, link: LinkBase): WireImage {
    const id = imageUuid(project.dataset, record.id);
    const uri = `${trainingBase(link)}/projects/${project.id}/images/${id}/original?image=${encodeURIComponent(record.id)}&token=${project.linkToken}`;
    return {
      id,
      created: record.ingestedAt,
      width: record.width ?? 0,
      height: record.height ?? 0,
      resizedImageUri: uri,
      thumbnailUri: uri,
      originalImageUri: uri,
      tags: labelsOf(record.label).flatMap((label) => {
        const tag = project.tags.find((t) => t.label === label);
        return tag ? [{ tagId: tag.id, tagName: tag.name, created: record.ingestedAt }] : [];
      }),
      regions: [],
      metadata: {},
    };
  }

  // Training and iterations

  async trainProject(projectId: string, query: URLSearchParams): Promise<Record<string, unknown>> {
    const project = await this.#refreshed(projectId);
    if (project.iterations.some((iteration) => iteration.status === 'Training'))
      throw new CustomVisionError(400, 'BadRequestTrainingAlreadyInProgress', 'the project is training already');
    const hours = Number(query.get('reservedBudgetInHours') ?? '0');
    if (!Number.isFinite(hours) || hours < 0)
      throw new CustomVisionError(400, 'BadRequest', 'reservedBudgetInHours must be a number of hours, 0 or more');
    // A budget bounds the recipe search (the app's searchBudgetInS); 0, the SDK's default, leaves the app's default.
    const options = hours > 0 ? { searchBudgetInS: Math.max(1, Math.min(86_400, Math.round(hours * 3600))) } : {};
    let job;
    try {
      job = await requestTraining(this.deps.training, this.deps.catalog, project.dataset, options);
    } catch (error) {
      if (error instanceof InvalidArgumentError || error instanceof NotFoundError)
        throw new CustomVisionError(400, 'BadRequestTrainingValidationFailed', error.message);
      throw error;
    }
    const { project: updated, result } = await this.deps.store.update(projectId, (stored) => {
      const iteration: StoredIteration = {
        id: newId(),
        name: `Iteration ${stored.iterations.length + 1}`,
        jobId: job.jobId,
        created: job.createdAt,
        status: 'Training',
      };
      stored.iterations.push(iteration);
      return iteration;
    });
    return wireIteration(updated, result);
  }

  async getIterations(projectId: string): Promise<Record<string, unknown>[]> {
    const project = await this.#refreshed(projectId);
    return project.iterations.map((iteration) => wireIteration(project, iteration));
  }

  async getIteration(projectId: string, iterationId: string): Promise<Record<string, unknown>> {
    const project = await this.#refreshed(projectId);
    return wireIteration(project, findIteration(project, iterationId));
  }

  /** Deletes an unpublished iteration and its model version (which stays when it serves the app's /classify). */
  async deleteIteration(projectId: string, iterationId: string): Promise<void> {
    const project = await this.#refreshed(projectId);
    const iteration = findIteration(project, iterationId);
    if (iteration.publishName)
      throw new CustomVisionError(
        400,
        'BadRequestIterationIsPublished',
        `iteration ${iterationId} is published; unpublish it first`,
      );
    if (iteration.status === 'Training')
      throw new CustomVisionError(
        400,
        'BadRequestTrainingAlreadyInProgress',
        `iteration ${iterationId} is still training`,
      );
    await this.deps.store.update(projectId, (stored) => {
      stored.iterations = stored.iterations.filter((i) => i.id !== iterationId);
    });
    if (iteration.status === 'Completed') {
      await this.deps.training.models
        .deleteVersion(project.dataset, iteration.jobId, this.deps.training.jobs)
        .catch((error: unknown) => {
          if (error instanceof NotFoundError || (error as { kind?: string }).kind === 'state-conflict') return;
          throw error;
        });
    }
  }

  async publishIteration(projectId: string, iterationId: string, query: URLSearchParams): Promise<boolean> {
    const publishName = query.get('publishName') ?? '';
    if (!/^[\w.-]{1,256}$/.test(publishName))
      throw new CustomVisionError(400, 'BadRequestInvalidPublishName', `"${publishName}" is not a valid publish name`);
    const predictionId = query.get('predictionId') ?? '';
    const overwrite = (query.get('overwrite') ?? '').toLowerCase() === 'true';
    const project = await this.#refreshed(projectId);
    const iteration = findIteration(project, iterationId);
    if (iteration.status !== 'Completed')
      throw new CustomVisionError(400, 'BadRequestIterationIsNotTrained', `iteration ${iterationId} is not trained`);
    await this.deps.store.update(projectId, (stored) => {
      const other = stored.iterations.find((i) => i.publishName === publishName && i.id !== iterationId);
      if (other && !overwrite)
        throw new CustomVisionError(
          400,
          'BadRequestInvalidPublishName',
          `"${publishName}" is the published name of ${other.name}; unpublish it first, or pass overwrite=true`,
        );
      if (other) delete other.publishName;
      const target = stored.iterations.find((i) => i.id === iterationId)!;
      target.publishName = publishName;
      target.predictionResourceId = predictionId;
    });
    return true;
  }

  async unpublishIteration(projectId: string, iterationId: string): Promise<void> {
    const project = await this.deps.store.get(projectId);
    const iteration = findIteration(project, iterationId);
    if (!iteration.publishName)
      throw new CustomVisionError(400, 'BadRequestIterationNotPublished', `iteration ${iterationId} is not published`);
    await this.deps.store.update(projectId, (stored) => {
      delete stored.iterations.find((i) => i.id === iterationId)!.publishName;
    });
  }

  async getIterationPerformance(
    projectId: string,
    iterationId: string,
    query: URLSearchParams,
  ): Promise<IterationPerformance> {
    const threshold = Number(query.get('threshold') ?? '0.5');
    if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1)
      throw new CustomVisionError(400, 'BadRequest', 'threshold must be a number from 0 to 1');
    const project = await this.#refreshed(projectId);
    const iteration = completed(findIteration(project, iterationId));
    const { labels, images } = await this.deps.iterationModels.testPredictions(project.dataset, iteration.jobId);
    return iterationPerformance(labels, images, threshold, project.tags);
  }

  async exportIteration(
    projectId: string,
    iterationId: string,
    query: URLSearchParams,
    link: LinkBase,
  ): Promise<Record<string, unknown>> {
    const platform = query.get('platform') ?? '';
    if (platform.toUpperCase() !== 'ONNX') throw notSupported(`export to ${platform || '(no platform)'}; ONNX is`);
    const project = await this.#refreshed(projectId);
    completed(findIteration(project, iterationId));
    const { project: updated } = await this.deps.store.update(projectId, (stored) => {
      const target = stored.iterations.find((i) => i.id === iterationId)!;
      target.exported ??= new Date().toISOString();
    });
    return this.#wireExport(updated, findIteration(updated, iterationId), link, query.get('flavor'));
  }

  async getExports(projectId: string, iterationId: string, link: LinkBase): Promise<Record<string, unknown>[]> {
    const project = await this.deps.store.get(projectId);
    const iteration = findIteration(project, iterationId);
    return iteration.exported ? [this.#wireExport(project, iteration, link, null)] : [];
  }

  /** The exported model's file: the iteration's self-contained ONNX model (preprocessing inside the graph). */
  async exportedModel(
    projectId: string,
    iterationId: string,
    query: URLSearchParams,
  ): Promise<{ stream: NodeJS.ReadableStream; sizeInBytes: number; etag: string }> {
    const project = await this.deps.store.get(projectId);
    checkLinkToken(project, query.get('token'));
    const iteration = findIteration(project, iterationId);
    if (!iteration.exported) throw notFound('NotFound', `iteration ${iterationId} has not been exported`);
    return this.deps.training.models.openFile(project.dataset, iteration.jobId, 'model.onnx');
  }

  #wireExport(
    project: StoredProject,
    iteration: StoredIteration,
    link: LinkBase,
    flavor: string | null,
  ): Record<string, unknown> {
    return {
      platform: 'ONNX',
      status: 'Done',
      downloadUri: `${trainingBase(link)}/projects/${project.id}/iterations/${iteration.id}/export/model.onnx?token=${project.linkToken}`,
      flavor: flavor || null,
      newerVersionAvailable: false,
    };
  }

  /** The project with each training iteration's status brought up to date from its job. */
  async #refreshed(projectId: string): Promise<StoredProject> {
    const project = await this.deps.store.get(projectId);
    const changes = new Map<string, Partial<StoredIteration>>();
    for (const iteration of project.iterations.filter((i) => i.status === 'Training')) {
      const job = await currentJob(this.deps.training, project.dataset, iteration.jobId).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
      if (!job) changes.set(iteration.id, { status: 'Failed', trainingErrorDetails: 'its training job is gone' });
      else if (job.status === 'succeeded')
        changes.set(iteration.id, { status: 'Completed', trainedAt: job.finishedAt ?? new Date().toISOString() });
      else if (job.status === 'failed')
        changes.set(iteration.id, {
          status: 'Failed',
          trainedAt: job.finishedAt ?? new Date().toISOString(),
          trainingErrorDetails: job.error ?? 'training failed',
        });
    }
    if (changes.size === 0) return project;
    return (
      await this.deps.store.update(projectId, (stored) => {
        for (const iteration of stored.iterations) Object.assign(iteration, changes.get(iteration.id) ?? {});
      })
    ).project;
  }

  // Prediction

  /** Classifies with the iteration published under `publishedName`. */
  async classifyPublished(projectId: string, publishedName: string, file: UploadedFile): Promise<PredictionAnswer> {
    const project = await this.deps.store.get(projectId);
    const iteration = project.iterations.find((i) => i.publishName === publishedName);
    if (!iteration) throw notFound('NotFound', `project ${projectId} has no iteration published as "${publishedName}"`);
    return this.#classify(project, iteration, file);
  }

  /** A quick test: the iteration given, else the project's latest trained one; nothing is stored. */
  async quickTest(projectId: string, iterationId: string | null, file: UploadedFile): Promise<PredictionAnswer> {
    const project = await this.#refreshed(projectId);
    const iteration = iterationId
      ? completed(findIteration(project, parseId(iterationId, 'iterationId')))
      : project.iterations.filter((i) => i.status === 'Completed').at(-1);
    if (!iteration)
      throw notFound('NotFoundProjectDefaultIteration', `project ${projectId} has no trained iteration yet`);
    return this.#classify(project, iteration, file);
  }

  /** An image from a URL, through the safe downloader, within Custom Vision's 4 MB. */
  async fetchImage(url: unknown): Promise<UploadedFile> {
    if (typeof url !== 'string' || url === '')
      throw new CustomVisionError(400, 'BadRequestImageUrl', 'the body must be {"url": "<the image URL>"}');
    const limit = Math.min(PREDICTION_MAX_BYTES, this.deps.ingest.maxFileBytes);
    return { content: (await this.deps.download(url, limit)).content };
  }

  /** Images from URLs for createImagesFromUrls: a URL that cannot be fetched is that image's ErrorSource. */
  async fetchForUpload(url: string): Promise<{ content: Buffer; failed?: string }> {
    try {
      return { content: (await this.deps.download(url, this.deps.ingest.maxFileBytes)).content };
    } catch (error) {
      if ((error as { kind?: string }).kind === 'download-refused')
        return { content: Buffer.alloc(0), failed: 'ErrorSource' };
      throw error;
    }
  }

  async #classify(project: StoredProject, iteration: StoredIteration, file: UploadedFile): Promise<PredictionAnswer> {
    if (file.rejected) throw file.rejected;
    const version = iteration.jobId;
    const current = await this.deps.training.models.current(project.dataset);
    let scored: { label: string; probability: number }[];
    if (current?.pointer.version === version) {
      // The version that serves the app's own /classify: the very same path, every label.
      const outcome = await this.deps.classifier.classify(project.dataset, [file], (model) => ({
        top: model.labels.length,
        threshold: 0,
      }));
      if (outcome.modelVersion === version) scored = outcome.results[0]!.predictions;
      else scored = await this.#classifyVersion(project, version, file);
    } else {
      scored = await this.#classifyVersion(project, version, file);
    }
    return {
      id: newId(),
      project: project.id,
      iteration: iteration.id,
      created: new Date().toISOString(),
      predictions: scored
        .map(({ label, probability }) => {
          const tag = project.tags.find((t) => t.label === label);
          return {
            probability,
            tagId: tag?.id ?? imageUuid(project.dataset, `label:${label}`),
            tagName: tag?.name ?? label,
            tagType: 'Regular' as const,
          };
        })
        .sort((a, b) => b.probability - a.probability),
    };
  }

  async #classifyVersion(
    project: StoredProject,
    version: string,
    file: UploadedFile,
  ): Promise<{ label: string; probability: number }[]> {
    const { info, rows } = await this.deps.iterationModels.predict(project.dataset, version, [file.content]);
    return rows[0]!.map((probability, i) => ({ label: info.labels[i] ?? `#${i}`, probability }));
  }
}

/** The training API's base for links, at the version these links are served under. */
function trainingBase(link: LinkBase): string {
  return `${link.origin}/customvision/v3.4-preview/training`;
}

function checkLinkToken(project: StoredProject, token: string | null): void {
  if (!token || !sameSecret(token, project.linkToken))
    throw new CustomVisionError(401, 'Unauthorized', 'the link is not valid (its token is missing or wrong)');
}

function parseClassificationType(value: string | null): ClassificationType {
  if (value === null || value === '' || value.toLowerCase() === 'multiclass') return 'Multiclass';
  if (value.toLowerCase() === 'multilabel') return 'Multilabel';
  throw new CustomVisionError(
    400,
    'BadRequestProjectUnknownClassification',
    `classificationType "${value}" is not Multiclass or Multilabel`,
  );
}

function findTag(project: StoredProject, tagId: string): StoredTag {
  const tag = project.tags.find((t) => t.id === tagId);
  if (!tag) throw notFound('NotFoundTag', `project ${project.id} has no tag ${tagId}`);
  return tag;
}

function findIteration(project: StoredProject, iterationId: string): StoredIteration {
  const iteration = project.iterations.find((i) => i.id === iterationId);
  if (!iteration) throw notFound('NotFoundIteration', `project ${project.id} has no iteration ${iterationId}`);
  return iteration;
}

function completed(iteration: StoredIteration): StoredIteration {
  if (iteration.status !== 'Completed')
    throw new CustomVisionError(
      400,
      'BadRequestIterationIsNotTrained',
      `iteration ${iteration.id} is ${iteration.status === 'Training' ? 'still training' : 'not trained (it failed)'}`,
    );
  return iteration;
}

function boundedInt(value: string | null, fallback: number, min: number, max: number, name: string): number {
  if (value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new CustomVisionError(400, 'BadRequest', `${name} must be an integer from ${min} to ${max}`);
  return n;
}

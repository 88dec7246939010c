// The stored mapping from Custom Vision's objects to the app's: one JSON blob per project in the `config` container
// (`_customvision/projects/{id}.json`: a folder no dataset can have, since dataset names start with a letter or a
// digit), holding the project, its dataset, its tags with their labels and its iterations with their training
// jobs. Changes are conditional writes on the blob's ETag, retried, so concurrent calls never lose one another's.
import type { ContainerClient } from '@azure/storage-blob';

import { isStatus } from '../storage/tables';
import { CustomVisionError, notFound } from './errors';

const PREFIX = '_customvision/projects/';

export type ClassificationType = 'Multiclass' | 'Multilabel';

export interface StoredTag {
  id: string;
  name: string;
  description: string | null;
  /** The dataset label its images get. */
  label: string;
  created: string;
}

export interface StoredIteration {
  id: string;
  name: string;
  /** The training job (and so the model version) it is. */
  jobId: string;
  created: string;
  publishName?: string;
  predictionResourceId?: string;
  exported?: string;
  /** The latest status seen, for a listing that does not read every job. */
  status: 'Training' | 'Completed' | 'Failed';
  trainedAt?: string;
  trainingErrorDetails?: string;
}

export interface StoredProject {
  id: string;
  name: string;
  description: string | null;
  domainId: string;
  classificationType: ClassificationType;
  targetExportPlatforms: string[];
  created: string;
  lastModified: string;
  dataset: string;
  /** What the links this app hands out (originalImageUri, downloadUri) carry instead of a key. */
  linkToken: string;
  tags: StoredTag[];
  iterations: StoredIteration[];
}

/** Custom Vision's S0 tier allows 100 projects; so does this app (BadRequestExceedProjectLimit beyond). */
export const MAX_PROJECTS = 100;

export class ProjectStore {
  constructor(private readonly container: ContainerClient) {}

  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  async list(): Promise<StoredProject[]> {
    const projects: StoredProject[] = [];
    for await (const blob of this.container.listBlobsFlat({ prefix: PREFIX })) {
      const project = await this.#read(blob.name);
      if (project) projects.push(project.project);
    }
    return projects.sort((a, b) => a.created.localeCompare(b.created));
  }

  async get(id: string): Promise<StoredProject> {
    const found = await this.#read(`${PREFIX}${id}.json`);
    if (!found) throw notFound('NotFoundProject', `project ${id} does not exist`);
    return found.project;
  }

  async create(project: StoredProject): Promise<void> {
    let count = 0;
    for await (const blob of this.container.listBlobsFlat({ prefix: PREFIX })) if (blob.name) count++;
    if (count >= MAX_PROJECTS)
      throw new CustomVisionError(
        400,
        'BadRequestExceedProjectLimit',
        `this app keeps at most ${MAX_PROJECTS} projects; delete one first`,
      );
    const body = JSON.stringify(project);
    await this.container.getBlockBlobClient(`${PREFIX}${project.id}.json`).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
      conditions: { ifNoneMatch: '*' },
    });
  }

  /** Applies `change` to the stored project (retried when another writer came first) and returns its result. */
  async update<T>(id: string, change: (project: StoredProject) => T): Promise<{ project: StoredProject; result: T }> {
    const name = `${PREFIX}${id}.json`;
    for (let attempt = 0; attempt < 20; attempt++) {
      const found = await this.#read(name);
      if (!found) throw notFound('NotFoundProject', `project ${id} does not exist`);
      const { project, etag } = found;
      const result = change(project);
      project.lastModified = new Date().toISOString();
      const body = JSON.stringify(project);
      try {
        await this.container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
          conditions: { ifMatch: etag },
        });
        return { project, result };
      } catch (error) {
        if (isStatus(error, 412) || isStatus(error, 409)) continue;
        throw error;
      }
    }
    throw new CustomVisionError(503, 'ErrorServerTimeOut', `project ${id} kept changing; try again`, {
      'retry-after': '1',
    });
  }

  async delete(id: string): Promise<void> {
    const deleted = await this.container.getBlockBlobClient(`${PREFIX}${id}.json`).deleteIfExists();
    if (!deleted.succeeded) throw notFound('NotFoundProject', `project ${id} does not exist`);
  }

  async #read(name: string): Promise<{ project: StoredProject; etag: string } | undefined> {
    try {
      const blob = this.container.getBlockBlobClient(name);
      const response = await blob.download();
      const chunks: Buffer[] = [];
      for await (const chunk of response.readableStreamBody!) chunks.push(Buffer.from(chunk as Buffer));
      return { project: JSON.parse(Buffer.concat(chunks).toString('utf8')) as StoredProject, etag: response.etag! };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }
}

// Training jobs in Azure Table storage (table `trainjobs`, one partition per dataset): what was asked, where
// the job is (queued, running, succeeded, failed), its stage and progress, and its results.
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';

import { InvalidArgumentError, NotFoundError } from '../errors';
import {
  DEFAULT_BACKBONE,
  formatPublished,
  jobMetricsSchema,
  parsePublished,
  type TrainJob,
  trainJobSchema,
  type TrainOptions,
} from '../model/published';
import { JOBS_TABLE } from '../storage/names';
import { ensureTable, isStatus } from '../storage/tables';
import { isTimeSortableId, timeSortableId } from '../util/ids';
import { parseAugmentationPolicy } from './augment';

export type { JobMetrics, JobStatus, TrainJob, TrainOptions } from '../model/published';

const optionsSchema = z
  .object({
    /** The built-in backbone, or one registered with `icf backbone register` (checked when the job is asked for). */
    backbone: z.string().min(1).max(63).default(DEFAULT_BACKBONE),
    /** Side of the square input: the built-in backbone takes any multiple of 32 from 128 to 512 (checked with the backbone). */
    inputSize: z.number().int().min(1).max(4096).optional(),
    /** Augmented views per training image of the recipe search's richest candidate, besides the plain and mirror views. */
    augmentedViews: z.number().int().min(0).max(16).default(2),
    /** The recipe search skips the stages that would end past this many seconds (and says so). */
    searchBudgetInS: z.number().int().min(1).max(86_400).default(300),
    augmentation: z.record(z.string(), z.unknown()).default({}),
    /** Publish even if the new model is worse than the current one. */
    force: z.boolean().default(false),
  })
  .strict();

/** Validates a train request's options; errors name the field. */
export function parseTrainOptions(json: unknown): TrainOptions {
  const parsed = optionsSchema.safeParse(json ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`);
    throw new InvalidArgumentError(`train options are invalid: ${problems.join('; ')}`);
  }
  return { ...parsed.data, augmentation: parseAugmentationPolicy(parsed.data.augmentation) };
}

/** How often a running trainer records that it is alive. */
export const HEARTBEAT_INTERVAL_MS = 15_000;

/** A job as a table row: the structured fields as JSON text. */
type JobEntity = Omit<TrainJob, 'dataset' | 'jobId' | 'options' | 'metrics'> & {
  partitionKey: string;
  rowKey: string;
  options: string;
  metrics?: string;
};

export class JobStore {
  constructor(private readonly table: TableClient) {}

  ensureTable(): Promise<void> {
    return ensureTable(this.table);
  }

  async create(dataset: string, options: TrainOptions): Promise<TrainJob> {
    const job: TrainJob = {
      dataset,
      jobId: timeSortableId(),
      status: 'queued',
      stage: 'queued',
      progress: 0,
      options,
      createdAt: new Date().toISOString(),
    };
    await this.table.createEntity(toEntity(job));
    return job;
  }

  async get(dataset: string, jobId: string): Promise<TrainJob> {
    if (!isTimeSortableId(jobId))
      throw new NotFoundError(
        `dataset "${dataset}" has no training job "${jobId}" (job ids look like 20261201123456-0123abcd)`,
      );
    try {
      return fromEntity(await this.table.getEntity<JobEntity>(dataset, jobId));
    } catch (error) {
      if (isStatus(error, 404)) throw new NotFoundError(`dataset "${dataset}" has no training job "${jobId}"`);
      throw error;
    }
  }

  /** The dataset's most recent jobs, newest first (job ids sort by time, and a partition lists in id order). */
  async latest(dataset: string, count: number): Promise<TrainJob[]> {
    const jobs: TrainJob[] = [];
    const filter = odata`PartitionKey eq ${dataset}`;
    for await (const entity of this.table.listEntities<JobEntity>({ queryOptions: { filter } })) {
      jobs.push(fromEntity(entity));
      if (jobs.length > count) jobs.shift();
    }
    return jobs.reverse();
  }

  /** Merges fields into the job (the trainer reports stage and progress as it goes). */
  async update(
    dataset: string,
    jobId: string,
    changes: Partial<Omit<TrainJob, 'dataset' | 'jobId' | 'options' | 'createdAt'>>,
  ): Promise<void> {
    const entity: { partitionKey: string; rowKey: string; [key: string]: unknown } = {
      partitionKey: dataset,
      rowKey: jobId,
    };
    const { metrics, ...fields } = changes;
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) entity[key] = value;
    // The summary is checked against the contract before it is stored: the job routes read it through it.
    if (metrics)
      entity['metrics'] = formatPublished(jobMetricsSchema, metrics, `${JOBS_TABLE}/${dataset}/${jobId} metrics`, {
        indent: 0,
      });
    await this.table.updateEntity(entity, 'Merge');
  }
}

function toEntity(job: TrainJob): JobEntity {
  const { dataset, jobId, options, metrics, ...rest } = job;
  const entity: JobEntity = {
    partitionKey: dataset,
    rowKey: jobId,
    ...rest,
    options: JSON.stringify(options),
    ...(metrics ? { metrics: JSON.stringify(metrics) } : {}),
  };
  return Object.fromEntries(Object.entries(entity).filter(([, value]) => value !== undefined)) as unknown as JobEntity;
}

/** Reads a row through the contract: a row that breaks it is reported with the field. */
function fromEntity(entity: JobEntity): TrainJob {
  const { partitionKey, rowKey, options, metrics, ...rest } = entity;
  const row = `${JOBS_TABLE}/${partitionKey}/${rowKey}`;
  // The table's own properties (etag, timestamp) are not the contract's, and the schema leaves them out.
  const fields = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== null));
  return parsePublished(
    trainJobSchema,
    {
      ...fields,
      dataset: partitionKey,
      jobId: rowKey,
      options: parsePublished(z.unknown(), options, `${row} options`),
      ...(metrics ? { metrics: parsePublished(jobMetricsSchema, metrics, `${row} metrics`) } : {}),
    },
    row,
  );
}

// Training requests: a job is recorded and queued on train-jobs; the queue function launches the trainer.
import type { QueueClient } from '@azure/storage-queue';

import type { Catalog } from '../dataset/catalog';
import { assertDatasetName } from '../dataset/names';
import { InvalidArgumentError, messageOf } from '../errors';
import type { ModelRegistry } from '../model/registry';
import { encodeQueueMessage } from '../platform/queueMessages';
import type { BackboneRegistry } from './backbones';
import { type JobStore, parseTrainOptions, type TrainJob } from './jobs';
import type { Launcher } from './launchers';

/** What training requests need, built by the composition root from the app settings. */
export interface Training {
  jobs: JobStore;
  models: ModelRegistry;
  /** Backbones registered besides the built-in one. */
  backbones: BackboneRegistry;
  queue: QueueClient;
  /** The configured launcher (TRAIN_LAUNCHER), created on first use. */
  launcher(): Launcher;
  /** A running job whose trainer has not beaten for this long is failed when read (TRAIN_HEARTBEAT_EXPIRY_S). */
  heartbeatExpiryInMs: number;
}

export interface TrainMessage {
  dataset: string;
  jobId: string;
}

/** Validates the options, records the job and queues it. */
export async function requestTraining(
  training: Training,
  catalog: Catalog,
  dataset: string,
  body: unknown,
): Promise<TrainJob> {
  assertDatasetName(dataset);
  const options = parseTrainOptions(body);
  const stats = await catalog.requireStats(dataset);
  await training.backbones.check(options.backbone, options.inputSize);
  const trainable = Object.values(stats.labels).filter((counts) => counts.train > 0).length;
  if (trainable < 2)
    throw new InvalidArgumentError(
      `dataset "${dataset}" has ${trainable} label(s) with training images; training needs at least 2`,
    );
  const job = await training.jobs.create(dataset, options);
  const message: TrainMessage = { dataset, jobId: job.jobId };
  await training.queue.sendMessage(encodeQueueMessage(message));
  return job;
}

/** Starts the trainer for a queued job and returns once it runs (the trainer reports progress itself). */
export async function launchTraining(training: Training, input: unknown): Promise<void> {
  const message = input as Partial<TrainMessage> | null;
  if (!message || typeof message.dataset !== 'string' || typeof message.jobId !== 'string') {
    throw new InvalidArgumentError(`not a training message: ${JSON.stringify(input)?.slice(0, 200)}`);
  }
  const job = await training.jobs.get(message.dataset, message.jobId);
  if (job.status !== 'queued') return; // a replayed message: the job was launched already
  const launcher = training.launcher();
  await training.jobs.update(job.dataset, job.jobId, { stage: 'launching', launcher: launcher.name });
  try {
    const { executionName } = await launcher.launch({ dataset: job.dataset, jobId: job.jobId });
    await training.jobs.update(job.dataset, job.jobId, { executionName });
  } catch (error) {
    await training.jobs.update(job.dataset, job.jobId, {
      status: 'failed',
      stage: 'failed',
      finishedAt: new Date().toISOString(),
      error: `the trainer could not be launched (${launcher.name}): ${messageOf(error)}`,
    });
  }
}

/** The dataset's `count` most recent jobs, newest first, each as `currentJob` reports it. */
export async function latestJobs(training: Training, dataset: string, count = 10): Promise<TrainJob[]> {
  assertDatasetName(dataset);
  const jobs = await training.jobs.latest(dataset, count);
  // Unfinished jobs go through currentJob, which fails those whose trainer died.
  return Promise.all(
    jobs.map(async (job) =>
      job.status === 'running' || job.status === 'queued' ? currentJob(training, dataset, job.jobId) : job,
    ),
  );
}

/**
 * The job as stored, after checking that a Container Apps execution it waits on is still alive: an execution
 * that ended without the trainer reporting (killed, out of memory, image not found) leaves the job failed.
 */
export async function currentJob(
  training: Training,
  dataset: string,
  jobId: string,
  now = Date.now(),
): Promise<TrainJob> {
  const job = await training.jobs.get(dataset, jobId);
  if (job.status !== 'running' && job.status !== 'queued') return job;
  const lastSign =
    job.status === 'running' ? Date.parse(job.heartbeatAt ?? job.startedAt ?? job.createdAt) : Number.NaN;
  if (now - lastSign > training.heartbeatExpiryInMs) {
    // Whichever launcher ran it, a trainer that stopped beating is gone: its host died, or it was killed.
    const failed = {
      status: 'failed' as const,
      stage: 'failed',
      finishedAt: new Date(now).toISOString(),
      error: `the trainer stopped reporting: no heartbeat since ${new Date(lastSign).toISOString()}, more than ${Math.round(training.heartbeatExpiryInMs / 1000)} s ago (its host or container died, or it was killed); the current model is unchanged, train again`,
    };
    await training.jobs.update(dataset, jobId, failed);
    return { ...job, ...failed };
  }
  if (!job.executionName || job.launcher !== 'containerapps') return job;
  const launcher = training.launcher();
  if (launcher.name !== 'containerapps' || !launcher.executionState) return job;
  const state = await launcher.executionState(job.executionName);
  if (state === 'running') return job;
  const latest = await training.jobs.get(dataset, jobId);
  if (latest.status === 'succeeded' || latest.status === 'failed') return latest;
  const failed = {
    status: 'failed' as const,
    stage: 'failed',
    finishedAt: new Date().toISOString(),
    error: `the Container Apps execution ${job.executionName} ${state === 'failed' ? 'failed' : 'ended'} without the trainer reporting a result; see its logs`,
  };
  await training.jobs.update(dataset, jobId, failed);
  return { ...latest, ...failed };
}

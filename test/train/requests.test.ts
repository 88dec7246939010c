// A Container Apps execution that dies without the trainer reporting leaves its job failed, not "running".
import * as https from 'node:https';

import type { AccessToken } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ModelRegistry } from '../../src/model/registry';
import { JOBS_TABLE } from '../../src/storage/names';
import { BackboneRegistry } from '../../src/train/backbones';
import { JobStore, parseTrainOptions } from '../../src/train/jobs';
import { ContainerAppsLauncher } from '../../src/train/launchers';
import type { Training } from '../../src/train/requests';
import { currentJob } from '../../src/train/requests';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { type FakeArm, startFakeArm } from '../support/fakeArm';

let storage: TestStorage;
let arm: FakeArm;
let training: Training;

beforeAll(async () => {
  storage = await startTestStorage();
  arm = await startFakeArm();
  const jobs = new JobStore(storage.clients.table(JOBS_TABLE));
  await jobs.ensureTable();
  const launcher = new ContainerAppsLauncher({
    subscriptionId: 'sub',
    resourceGroup: 'rg',
    jobName: 'icf-trainer',
    containerName: 'trainer',
    image: 'trainer:1',
    credential: {
      getToken: async (): Promise<AccessToken> => ({ token: 't', expiresOnTimestamp: Date.now() + 3600_000 }),
    },
    clientOptions: { endpoint: arm.endpoint, agent: new https.Agent({ ca: arm.ca }) },
  });
  training = {
    jobs,
    models: new ModelRegistry(storage.clients.blobs.getContainerClient('models')),
    backbones: new BackboneRegistry(storage.clients.blobs.getContainerClient('backbones')),
    queue: storage.clients.queues.getQueueClient('train-jobs'),
    launcher: () => launcher,
    heartbeatExpiryInMs: 180_000,
  };
});
afterAll(async () => {
  await arm.close();
  await storage.azurite.close();
});

describe('currentJob', () => {
  it('leaves a running job alone while its execution runs, and fails it once the execution died', async () => {
    const job = await training.jobs.create('clothes', parseTrainOptions({}));
    await training.jobs.update('clothes', job.jobId, {
      status: 'running',
      stage: 'features',
      launcher: 'containerapps',
      executionName: 'exec-7',
    });
    expect((await currentJob(training, 'clothes', job.jobId)).status).toBe('running');
    arm.setExecutionStatus('exec-7', 'Failed');
    const failed = await currentJob(training, 'clothes', job.jobId);
    expect(failed).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/execution exec-7 failed without the trainer reporting/),
    });
    expect((await training.jobs.get('clothes', job.jobId)).status).toBe('failed');
  });

  it('fails a running job whose trainer stopped beating, whichever launcher ran it', async () => {
    const job = await training.jobs.create('clothes', parseTrainOptions({}));
    const beat = new Date('2026-12-01T10:00:00.000Z');
    await training.jobs.update('clothes', job.jobId, {
      status: 'running',
      stage: 'training',
      launcher: 'local',
      executionName: 'pid-1',
      heartbeatAt: beat.toISOString(),
    });
    // 2 minutes after the last beat it is alive; past the 3-minute expiry it is not.
    expect((await currentJob(training, 'clothes', job.jobId, beat.getTime() + 120_000)).status).toBe('running');
    const failed = await currentJob(training, 'clothes', job.jobId, beat.getTime() + 181_000);
    expect(failed).toMatchObject({
      status: 'failed',
      stage: 'failed',
      error:
        'the trainer stopped reporting: no heartbeat since 2026-12-01T10:00:00.000Z, more than 180 s ago (its host or container died, or it was killed); the current model is unchanged, train again',
    });
    expect((await training.jobs.get('clothes', job.jobId)).status).toBe('failed');
  });

  it('keeps what the trainer reported when it finished', async () => {
    const job = await training.jobs.create('clothes', parseTrainOptions({}));
    await training.jobs.update('clothes', job.jobId, {
      status: 'succeeded',
      stage: 'done',
      launcher: 'containerapps',
      executionName: 'exec-8',
    });
    arm.setExecutionStatus('exec-8', 'Succeeded');
    expect((await currentJob(training, 'clothes', job.jobId)).status).toBe('succeeded');
  });
});

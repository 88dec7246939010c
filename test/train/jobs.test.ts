// The job store writes a job's test summary through the contract and reads every row through it: a summary its
// readers would refuse is never stored, and a row that breaks the contract is reported with the row and field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type JobMetrics, JobStore, parseTrainOptions } from '../../src/train/jobs';
import { startTestStorage, type TestStorage } from '../support/azurite';

let storage: TestStorage;
let jobs: JobStore;
const summary: JobMetrics = {
  task: 'single-label',
  accuracy: 0.9,
  topK: { '1': 0.9, '3': 1 },
  macroF1: 0.88,
  testImages: 20,
  trainImages: 80,
  recipe: { chosen: 'squash, plain views', innerCV: { squash: 0.85 }, skipped: [] },
  learningCurve: { converged: true, verdict: 'converged', gainPerDoubling: 0.01 },
};

beforeAll(async () => {
  storage = await startTestStorage();
  jobs = new JobStore(storage.clients.table('trainjobs'));
  await jobs.ensureTable();
});
afterAll(async () => {
  await storage.azurite.close();
});

describe('JobStore', () => {
  it('stores and reads back a job with its summary', async () => {
    const job = await jobs.create('shirts', parseTrainOptions({}));
    await jobs.update('shirts', job.jobId, {
      status: 'succeeded',
      stage: 'done',
      progress: 1,
      metrics: summary,
      published: true,
    });
    expect(await jobs.get('shirts', job.jobId)).toMatchObject({
      dataset: 'shirts',
      jobId: job.jobId,
      status: 'succeeded',
      published: true,
      metrics: summary,
    });
  });

  it('refuses a summary its readers would refuse, naming the field, and stores nothing of it', async () => {
    const job = await jobs.create('shirts', parseTrainOptions({}));
    const broken = { ...summary, accuracy: 1.5 };
    await expect(jobs.update('shirts', job.jobId, { metrics: broken })).rejects.toThrow(
      new RegExp(`refusing to write trainjobs/shirts/${job.jobId} metrics: accuracy: `),
    );
    expect((await jobs.get('shirts', job.jobId)).metrics).toBeUndefined();
  });

  it('reads summaries stored before the recipe search, and names a row that breaks the contract', async () => {
    const table = storage.clients.table('trainjobs');
    const old = {
      accuracy: 0.8,
      topK: { '1': 0.8 },
      macroF1: 0.7,
      testImages: 10,
      trainImages: 40,
      learningCurve: { converged: false, verdict: 'more images would help', gainPerDoubling: 0.05 },
    };
    const row = {
      partitionKey: 'legacy',
      status: 'succeeded',
      stage: 'done',
      progress: 1,
      options: JSON.stringify(parseTrainOptions({})),
      createdAt: '2026-01-01T00:00:00.000Z',
    };
    await table.createEntity({ ...row, rowKey: '20260101000000-0000abcd', metrics: JSON.stringify(old) });
    expect((await jobs.get('legacy', '20260101000000-0000abcd')).metrics).toEqual(old);
    await table.createEntity({ ...row, rowKey: '20260101000000-0000abce', status: 'finished' });
    await expect(jobs.get('legacy', '20260101000000-0000abce')).rejects.toThrow(
      /trainjobs\/legacy\/20260101000000-0000abce is invalid: status: /,
    );
    await table.createEntity({ ...row, rowKey: '20260101000000-0000abcf', metrics: '{"accuracy":' });
    await expect(jobs.get('legacy', '20260101000000-0000abcf')).rejects.toThrow(
      /trainjobs\/legacy\/20260101000000-0000abcf metrics is not valid JSON/,
    );
  });
});

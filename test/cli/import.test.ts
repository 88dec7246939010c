// `icf import customvision` moves a project: it reads a Custom Vision project through Microsoft's training SDK and
// copies its tagged images and tags into a dataset. The source here is this app itself, which answers the same API:
// a project made with the SDK, imported into another dataset through the CLI, then imported again (a rerun after an
// interruption), which copies nothing twice.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { TrainingAPIClient } from '@azure/cognitiveservices-customvision-training';
import { ApiKeyCredentials } from '@azure/ms-rest-js';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { run } from '../../src/cli/main';
import { type AppStack, startAppStack } from '../support/appHost';
import { capturedOutput } from '../support/capturedOutput';
import { describeWithShared, haveShared, sharedPath } from '../support/shared';

const KEY = 'import-test-training-key-0123';
let stack: AppStack;

beforeAll(async () => {
  if (!haveShared) return;
  stack = await startAppStack({
    hostId: 'customvision-import',
    env: { CUSTOMVISION_TRAINING_KEY: KEY, CUSTOMVISION_PREDICTION_KEY: 'import-test-prediction-key-0123' },
    blobScanIntervalInMs: 300,
  });
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

async function icf(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = capturedOutput();
  const err = capturedOutput();
  const code = await run(args, out.stream, err.stream);
  return { code, out: out.text(), err: err.text() };
}

describeWithShared('icf import customvision', () => {
  it('copies the tagged images and tags of a project into a dataset, and a rerun copies nothing twice', async () => {
    const endpoint = stack.host.url;
    const client = new TrainingAPIClient(new ApiKeyCredentials({ inHeader: { 'Training-Key': KEY } }), endpoint);
    const project = await client.createProject('Source project');
    const projectId = project.id!;
    const root = sharedPath('datasets', 'trashnet-subset');
    for (const label of ['paper', 'plastic']) {
      const tag = await client.createTag(projectId, label);
      for (const name of readdirSync(path.join(root, label)).sort().slice(0, 4)) {
        const summary = await client.createImagesFromData(projectId, readFileSync(path.join(root, label, name)), {
          tagIds: [tag.id!],
        });
        expect(summary.isBatchSuccessful).toBe(true);
      }
    }
    const args = [
      'import',
      'customvision',
      '--endpoint',
      endpoint,
      '--training-key',
      KEY,
      '--project',
      projectId,
      '--dataset',
      'imported',
      '--connection-string',
      stack.azurite.connectionString,
      '--timeout-s',
      '60',
    ];
    const first = await icf(args);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toContain('2 tags, 8 tagged images, into dataset imported');
    expect(first.out).toContain('copied 8 images, 0 already there');
    expect(first.out).toMatch(/ {2}paper: 4\n {2}plastic: 4\n/);
    expect(first.out).toContain('ingest: 8 accepted, 0 duplicates, 0 near duplicates, 0 rejected');
    const stats = await stack.services.catalog.getStats('imported');
    expect(Object.keys(stats!.labels).sort()).toEqual(['paper', 'plastic']);
    expect(stats!.images.accepted).toBe(8);

    const again = await icf(args);
    expect(again.code).toBe(0);
    expect(again.out).toContain('copied 0 images, 8 already there from an earlier run');
    expect((await stack.services.catalog.getStats('imported'))!.images.accepted).toBe(8);

    const refused = await icf([...args.slice(0, 4), '--training-key', 'wrong-key', ...args.slice(6)]);
    expect(refused.code).not.toBe(0);
  }, 180_000);
});

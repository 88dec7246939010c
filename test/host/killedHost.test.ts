// A host process killed (SIGKILL) in the middle of ingesting a batch, then started again, finishes the
// batch: every blob ends up in the catalog exactly once. Runs the built app (`npm test` builds first).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { Catalog } from '../../src/dataset/catalog';
import { CATALOG_TABLE } from '../../src/storage/names';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { noiseImage } from '../support/images';

const projectRoot = path.resolve(__dirname, '..', '..');
const hostMain = path.join(projectRoot, 'dist', 'src', 'host', 'main.js');
const BATCH = 60;

let storage: TestStorage;
let catalog: Catalog;
const children: ChildProcess[] = [];

function startHostProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [hostMain], {
    cwd: projectRoot,
    env: { ...process.env, AzureWebJobsStorage: storage.azurite.connectionString, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('functions host: http')) resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`host exited early (${code}): ${output}`)));
  });
}

async function accepted(): Promise<number> {
  return (await catalog.getStats('killtest'))?.images.accepted ?? 0;
}

beforeAll(async () => {
  if (!existsSync(hostMain))
    throw new Error(`${hostMain} is missing: run npm run build (npm test does) before this test`);
  storage = await startTestStorage();
  catalog = new Catalog(storage.clients.table(CATALOG_TABLE));
  await catalog.ensureTable();
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await storage?.azurite.close();
});

it('finishes a batch after the host process is killed half way', async () => {
  const container = storage.clients.blobs.getContainerClient('incoming');
  await container.createIfNotExists();
  for (let i = 0; i < BATCH; i++) {
    const content = await noiseImage(20_000 + i, { width: 640, height: 480 });
    await container.getBlockBlobClient(`killtest/shapes/img-${String(i).padStart(3, '0')}.jpg`).uploadData(content);
  }

  const first = await startHostProcess();
  const deadline = Date.now() + 30_000;
  while ((await accepted()) < 3) {
    if (Date.now() > deadline) throw new Error('the first host ingested nothing within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  const atKill = await accepted();
  expect(atKill, 'the host must be killed before the batch is done, or this test shows nothing').toBeLessThan(BATCH);

  await startHostProcess();
  const finishDeadline = Date.now() + 90_000;
  while ((await accepted()) < BATCH) {
    if (Date.now() > finishDeadline) throw new Error(`the restarted host stopped at ${await accepted()} of ${BATCH}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // Let any replayed messages run, then check that nothing was counted twice.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const stats = (await catalog.getStats('killtest'))!;
  expect(stats.images).toEqual({ accepted: BATCH, duplicate: 0, nearDuplicate: 0, rejected: 0 });
  const listed = await catalog.listImages('killtest', { pageSize: 1000 });
  expect(listed.images).toHaveLength(BATCH);
  expect(new Set(listed.images.map((image) => image.name)).size).toBe(BATCH);
  expect(stats.labels['shapes']).toEqual({ train: 48, test: 12 });
}, 180_000);

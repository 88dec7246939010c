// The icf command as a user runs it (the built bin, in a child process).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestStorage, type TestStorage } from '../support/azurite';
import { noiseImage } from '../support/images';
import { TINY_CNN, tinyCnn } from '../support/onnxModels';
import { sharedPath } from '../support/shared';

const run = promisify(execFile);
const icf = path.resolve(__dirname, '..', '..', 'bin', 'icf.js');

async function icfRun(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [icf, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

let storage: TestStorage;
beforeAll(async () => {
  storage = await startTestStorage();
});
afterAll(async () => {
  await storage.azurite.close();
});

describe('icf dhash', () => {
  it('prints HEX  FILE per file, matching imagehash', async () => {
    const dir = sharedPath('fixtures', 'dhash');
    const golden = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8')) as {
      files: Record<string, { dhash16: string }>;
    };
    const names = ['dog.jpg', 'eagle_cmyk.jpg', 'dog_rgba.png'];
    const result = await icfRun(['dhash', ...names.map((name) => path.join(dir, name))]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      names.map((name) => `${golden.files[name]!.dhash16}  ${path.join(dir, name)}\n`).join(''),
    );
  });

  it('reports unreadable files on stderr and exits 1, still hashing the others', async () => {
    const dir = sharedPath('fixtures', 'dhash');
    const result = await icfRun(['dhash', path.join(dir, 'dog.jpg'), '/no/such/file.jpg']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^[0-9a-f]{64} {2}/);
    expect(result.stderr).toMatch(/\/no\/such\/file\.jpg: .*ENOENT/);
  });

  it('explains usage errors', async () => {
    expect(await icfRun(['dhash'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/at least one FILE/) });
    expect(await icfRun(['frobnicate'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/unknown command "frobnicate"/),
    });
    expect(await icfRun(['eval', os.tmpdir(), '--providers', 'tpu,cpu'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(
        /--providers lists execution providers from cuda, webgpu, cpu, e\.g\. webgpu,cpu; got "tpu,cpu"/,
      ),
    });
  });
});

describe('icf upload', () => {
  it('uploads DIR/<label>/<file> to incoming/NAME/<label>/ and names what it skipped', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'icf-cli-'));
    await mkdir(path.join(dir, 'striped'));
    await mkdir(path.join(dir, 'dotted'));
    await writeFile(path.join(dir, 'striped', 'a.jpg'), await noiseImage(1));
    await writeFile(path.join(dir, 'dotted', 'B.JPG'), await noiseImage(2));
    await writeFile(path.join(dir, 'loose.jpg'), await noiseImage(3));
    const result = await icfRun([
      'upload',
      dir,
      '--dataset',
      'shirts',
      '--connection-string',
      storage.azurite.connectionString,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/uploaded 2 files \(\d+ bytes\) to incoming\/shirts\//);
    expect(result.stderr).toMatch(/skipped loose\.jpg/);
    const names: string[] = [];
    for await (const blob of storage.clients.blobs
      .getContainerClient('incoming')
      .listBlobsFlat({ includeMetadata: true })) {
      names.push(blob.name);
      expect(blob.metadata).toMatchObject({ source: 'upload' });
    }
    expect(names.sort()).toEqual(['shirts/dotted/B.JPG', 'shirts/striped/a.jpg']);
  });

  it('uploads a multi-label folder (images/ + labels.csv) to incoming/NAME/<a>+<b>/ with its labels', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'icf-cli-'));
    await mkdir(path.join(dir, 'images'));
    for (const [i, name] of ['1.jpg', '2.jpg', '3.jpg', '4.jpg'].entries())
      await writeFile(path.join(dir, 'images', name), await noiseImage(10 + i));
    await writeFile(
      path.join(dir, 'labels.csv'),
      '\uFEFFfilename,labels\r\n1.jpg,milk_bottle carton\r\n2.jpg,can\r\n"3.jpg","crème can"\r\n',
    );
    const result = await icfRun([
      'upload',
      dir,
      '--dataset',
      'fridge',
      '--connection-string',
      storage.azurite.connectionString,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/uploaded 3 files \(\d+ bytes\) to incoming\/fridge\//);
    expect(result.stderr).toBe('icf: skipped images/4.jpg (not listed in labels.csv)\n');
    const blobs: Record<string, Record<string, string> | undefined> = {};
    for await (const blob of storage.clients.blobs
      .getContainerClient('incoming')
      .listBlobsFlat({ prefix: 'fridge/', includeMetadata: true }))
      blobs[blob.name] = blob.metadata;
    expect(blobs).toEqual({
      'fridge/can/2.jpg': { source: 'upload', original_file: '2.jpg', labels: 'can' },
      'fridge/can+crème/3.jpg': { source: 'upload', original_file: '3.jpg', labels: 'cr_me can' },
      'fridge/carton+milk_bottle/1.jpg': { source: 'upload', original_file: '1.jpg', labels: 'milk_bottle carton' },
    });
  });

  it('refuses a bad labels.csv, naming the line, before uploading anything', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'icf-cli-'));
    await mkdir(path.join(dir, 'images'));
    await writeFile(path.join(dir, 'images', '1.jpg'), await noiseImage(20));
    await writeFile(path.join(dir, 'labels.csv'), 'filename,labels\n1.jpg,can\n2.jpg,carton\n');
    const result = await icfRun([
      'upload',
      dir,
      '--dataset',
      'fridge-bad',
      '--connection-string',
      storage.azurite.connectionString,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('icf: labels.csv line 3: images/2.jpg does not exist\n');
    const names: string[] = [];
    for await (const blob of storage.clients.blobs
      .getContainerClient('incoming')
      .listBlobsFlat({ prefix: 'fridge-bad/' }))
      names.push(blob.name);
    expect(names).toEqual([]);
  });

  it('refuses a bad dataset name before uploading anything', async () => {
    const result = await icfRun([
      'upload',
      os.tmpdir(),
      '--dataset',
      'Bad Name',
      '--connection-string',
      storage.azurite.connectionString,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/dataset name "Bad Name" is invalid/);
  });
});

describe('icf collect plan', () => {
  it('prints the queries and labels a plan makes', async () => {
    const result = await icfRun([
      'collect',
      'plan',
      path.resolve(__dirname, '..', '..', 'examples', 'clothing-bing.json'),
    ]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      '21 queries, 3 labels (striped, dotted, leopard); 50 images per query from bing (at most 1050 images)',
    );
    expect(lines).toHaveLength(22);
    expect(lines.some((line) => /^leopard t-shirt +-> leopard$/.test(line))).toBe(true);
  });

  it('names the bad field of an invalid plan', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'icf-plan-'));
    const file = path.join(dir, 'bad.json');
    await writeFile(
      file,
      JSON.stringify({ dimensions: { item: ['shirt'] }, template: '{item}', labelFrom: 'item', imagesPerQuery: -1 }),
    );
    const result = await icfRun(['collect', 'plan', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/imagesPerQuery/);
  });
});

describe('icf imagenet', () => {
  it("prints the backbone's top-5 ImageNet classes, as the reference outputs have them", async () => {
    const golden = JSON.parse(
      readFileSync(sharedPath('fixtures', 'backbone', 'resnet50-keras-golden.json'), 'utf8'),
    ) as {
      photos_resized_to_224x224_fill: { top3: Record<string, { label: string; probability: number }[]> };
    };
    const eagle = golden.photos_resized_to_224x224_fill.top3['eagle.jpg']![0]!;
    const result = await icfRun(['imagenet', path.join(sharedPath('fixtures', 'dhash'), 'eagle.jpg')]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(6);
    const [, probability, label] = /^\s+(\d\.\d{4})\s+(\S+) \(\d+\)$/.exec(lines[1]!)!;
    expect(label).toBe(eagle.label);
    expect(Math.abs(Number(probability) - eagle.probability)).toBeLessThan(0.01);
  }, 180_000);
});

describe('icf backbone', () => {
  it('registers an ONNX backbone with its preprocessing, lists it, and names bad options', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'icf-backbone-'));
    const file = path.join(dir, 'tiny.onnx');
    await writeFile(file, tinyCnn());
    const cs = ['--connection-string', storage.azurite.connectionString];
    const registered = await icfRun([
      'backbone',
      'register',
      'tiny-cnn',
      file,
      '--features-output',
      TINY_CNN.featuresOutput,
      '--input-size',
      String(TINY_CNN.inputSize),
      '--channels',
      'bgr',
      '--scale',
      String(TINY_CNN.scale),
      '--mean',
      TINY_CNN.mean.join(','),
      '--std',
      TINY_CNN.std.join(','),
      ...cs,
    ]);
    expect(registered).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^registered tiny-cnn: 32x32 input, 16 features from "pool"/),
    });
    const listed = await icfRun(['backbone', 'list', ...cs]);
    expect(listed.stdout).toMatch(/resnet50-keras \(built in\)[\s\S]*\ntiny-cnn: 32x32 input, 16 features/);
    expect(
      await icfRun([
        'backbone',
        'register',
        'tiny-cnn',
        file,
        '--features-output',
        'pool',
        '--channels',
        'rgba',
        ...cs,
      ]),
    ).toMatchObject({ code: 2, stderr: expect.stringMatching(/--channels must be rgb or bgr, got "rgba"/) });
    expect(
      await icfRun(['backbone', 'register', 'tiny-cnn', file, '--features-output', 'pool', '--mean', '1,2', ...cs]),
    ).toMatchObject({ code: 2, stderr: expect.stringMatching(/--mean needs three numbers/) });
    expect(await icfRun(['backbone', 'register', 'tiny-cnn', file, ...cs])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/needs NAME, MODEL\.onnx and --features-output/),
    });
  });
});

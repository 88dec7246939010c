// The icf command as a user runs it (the built bin, in a child process): its help, version and usage errors, the
// offline commands, uploads into a bare Azurite, and the app's journey (upload --wait, train, status, classify)
// against the app on the strict local host (function keys checked as on Azure: a missing key is a 401 here too).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderGarment } from '../../src/collect/syntheticImages';
import type { TrainJob } from '../../src/train/jobs';
import { type AppStack, callApi, hostKey, keyHeaders, seedGarments, startAppStack } from '../support/appHost';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { noiseImage } from '../support/images';
import { TINY_CNN, tinyCnn } from '../support/onnxModels';
import { describeWithShared, sharedPath } from '../support/shared';

const run = promisify(execFile);
const icf = path.resolve(__dirname, '..', '..', 'bin', 'icf.js');

async function icfRun(args: string[], env: Record<string, string> = {}) {
  try {
    // The settings' fallbacks are the caller's: a test that wants them sets them in `env`.
    const { ICF_URL: _url, ICF_FUNCTION_KEY: _key, AzureWebJobsStorage: _storage, ...inherited } = process.env;
    const { stdout, stderr } = await run(process.execPath, [icf, ...args], { env: { ...inherited, ...env } });
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

describeWithShared('icf dhash', () => {
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
    expect(result.stderr).toContain('icf: /no/such/file.jpg does not exist (ENOENT): check the path');
  });

  it('says a file is not an image it can read, naming the file and what would do', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'icf-dhash-'));
    await writeFile(path.join(dir, 'notes.txt'), 'not a picture');
    const result = await icfRun(['dhash', path.join(dir, 'notes.txt')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `icf: ${path.join(dir, 'notes.txt')} is not an image this can read: give a JPEG, PNG, WebP, GIF, TIFF, AVIF or ` +
        'BMP (Input buffer contains unsupported image format)\n',
    );
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

describeWithShared('icf imagenet', () => {
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
    ).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/expected rgb or bgr for --channels but received "rgba"\nsee icf backbone --help/),
    });
    expect(
      await icfRun(['backbone', 'register', 'tiny-cnn', file, '--features-output', 'pool', '--mean', '1,2', ...cs]),
    ).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(
        /expected three numbers separated by commas \(one per channel\) for --mean but received "1,2"/,
      ),
    });
    expect(await icfRun(['backbone', 'register', 'tiny-cnn', file, ...cs])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/needs NAME, MODEL\.onnx and --features-output/),
    });
  });
});

/** Every command, with the words its usage starts with. */
const COMMANDS = [
  'upload',
  'collect',
  'train',
  'status',
  'classify',
  'models',
  'results',
  'review',
  'eval',
  'backbone',
  'dhash',
  'imagenet',
];

describe('icf help, version and usage errors', () => {
  it("prints each command's own usage for --help and -h, exit 0, opening no file named --help", async () => {
    for (const command of COMMANDS) {
      for (const flag of ['--help', '-h']) {
        const result = await icfRun([command, flag]);
        expect(result, `${command} ${flag}`).toMatchObject({ code: 0, stderr: '' });
        expect(result.stdout, `${command} ${flag}`).toMatch(new RegExp(`^usage: icf ${command}\\b`));
        // Its own usage, not the whole tool's: no other command's usage line.
        expect(result.stdout.match(/^(usage: | {7})icf \w+/gm)!.every((line) => line.endsWith(command))).toBe(true);
      }
    }
    const overview = await icfRun(['--help']);
    expect(overview.code).toBe(0);
    for (const command of COMMANDS) expect(overview.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    expect(await icfRun(['help', 'train'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^usage: icf train/),
    });
  }, 120_000);

  it('prints the package version for --version', async () => {
    const { version } = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(await icfRun(['--version'])).toEqual({ code: 0, stdout: `icf ${version}\n`, stderr: '' });
  });

  it("answers a usage error with one line and a pointer to the command's help, exit 2", async () => {
    for (const command of COMMANDS) {
      expect(await icfRun([command, '--bogus']), command).toEqual({
        code: 2,
        stdout: '',
        stderr: `icf: unknown option --bogus for ${command}\nsee icf ${command} --help\n`,
      });
    }
    const cases: [string[], string, string][] = [
      [['upload'], 'upload', 'upload needs one DIR'],
      [['upload', os.tmpdir()], 'upload', 'upload needs --dataset NAME'],
      [['upload', os.tmpdir(), '--dataset'], 'upload', '--dataset needs a value'],
      [['upload', os.tmpdir(), '--dataset', 'x', '--wait=yes'], 'upload', '--wait takes no value'],
      [
        ['upload', os.tmpdir(), '--dataset', 'abc', '--concurrency', '0'],
        'upload',
        'expected an integer from 1 to 64 for --concurrency but received "0"',
      ],
      [['train'], 'train', 'train needs one DATASET'],
      [
        ['train', 'tees', '--budget', 'soon'],
        'train',
        'expected a non-negative number for --budget but received "soon"',
      ],
      [['status'], 'status', 'status needs DATASET and, optionally, a JOB id'],
      [['classify', 'tees'], 'classify', 'classify needs DATASET and at least one FILE'],
      [
        ['classify', 'tees', 'a.jpg', '--top', '0'],
        'classify',
        'expected an integer from 1 to 100 for --top but received "0"',
      ],
      [['models'], 'models', 'models needs one DATASET'],
      [['results', 'tees'], 'results', 'results needs DATASET and --out DIR'],
      [['review', 'tees'], 'review', 'review needs --suspects (the only review so far)'],
      [['eval'], 'eval', 'eval needs exactly one DIR'],
      [['backbone'], 'backbone', 'backbone needs "register" or "list"'],
      [['collect'], 'collect', 'collect needs "plan" or "run"'],
      [['collect', 'run'], 'collect', 'collect run needs --dataset NAME'],
      [['dhash'], 'dhash', 'dhash needs at least one FILE'],
      [['imagenet'], 'imagenet', 'imagenet needs at least one FILE'],
    ];
    for (const [args, command, problem] of cases)
      expect(await icfRun(args), args.join(' ')).toEqual({
        code: 2,
        stdout: '',
        stderr: `icf: ${problem}\nsee icf ${command} --help\n`,
      });
    expect(await icfRun(['frobnicate'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'icf: unknown command "frobnicate"\nsee icf --help\n',
    });
  }, 180_000);
});

describe('icf against the app', () => {
  let stack: AppStack;
  let endpoint: string[];
  let storageOption: string[];
  let trained: TrainJob;
  let dir: string;

  beforeAll(async () => {
    stack = await startAppStack({
      hostId: 'icf-cli-test',
      seed: (services) => seedGarments(services, 'tees'),
      blobScanIntervalInMs: 250,
      strict: true,
    });
    endpoint = ['--endpoint', stack.host.url, '--key', hostKey(stack.host)!];
    storageOption = ['--connection-string', stack.azurite.connectionString];
    dir = await mkdtemp(path.join(os.tmpdir(), 'icf-app-'));
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  async function photoFolder(name: string): Promise<string> {
    const root = path.join(dir, name);
    await mkdir(path.join(root, 'striped'), { recursive: true });
    await mkdir(path.join(root, 'dotted'), { recursive: true });
    const first = await noiseImage(31);
    await writeFile(path.join(root, 'striped', 'a.jpg'), first);
    await writeFile(path.join(root, 'striped', 'b.jpg'), await noiseImage(32));
    await writeFile(path.join(root, 'dotted', 'c.jpg'), await noiseImage(33));
    await writeFile(path.join(root, 'dotted', 'copy-of-a.jpg'), first);
    await writeFile(path.join(root, 'dotted', 'page.jpg'), '<!doctype html><html><body>Not found</body></html>');
    return root;
  }

  it('upload --wait reports what ingest made of each file and exits 1 for a rejected one', async () => {
    const result = await icfRun([
      'upload',
      await photoFolder('mixed'),
      '--dataset',
      'mixed',
      '--wait',
      ...storageOption,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/uploaded 5 files \(\d+ bytes\) to incoming\/mixed\//);
    expect(result.stdout).toMatch(/^ingest: 3 accepted, 1 duplicates, 0 near duplicates, 1 rejected$/m);
    expect(result.stdout).toMatch(/^ {2}rejected mixed\/dotted\/page\.jpg: not-an-image: .*HTML/m);
    expect(result.stdout).toMatch(/^ {2}duplicate mixed\/(dotted\/copy-of-a|striped\/a)\.jpg of \S+$/m);
    // The figures are the catalog's.
    const stats = await stack.services.catalog.requireStats('mixed');
    expect(stats.images).toEqual({ accepted: 3, duplicate: 1, nearDuplicate: 0, rejected: 1 });
  }, 120_000);

  it('upload --wait --allow-rejected exits 0 with the same report', async () => {
    const result = await icfRun([
      'upload',
      await photoFolder('mixed-ok'),
      '--dataset',
      'mixed-ok',
      '--wait',
      '--allow-rejected',
      ...storageOption,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ingest: 3 accepted, 1 duplicates, 0 near duplicates, 1 rejected$/m);
  }, 120_000);

  it('train --wait follows the job to its outcome, and status reports it', async () => {
    const result = await icfRun([
      'train',
      'tees',
      '--wait',
      '--augmented-views',
      '0',
      '--poll-interval-ms',
      '500',
      ...endpoint,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const jobId = /^job (\S+) queued for dataset tees$/m.exec(result.stdout)![1]!;
    trained = (await callApi<TrainJob>(stack.host, 'GET', `datasets/tees/jobs/${jobId}`)).body;
    expect(trained).toMatchObject({ status: 'succeeded', published: true });
    const accuracy = `${(trained.metrics!.accuracy * 100).toFixed(1)}%`;
    const outcome = [
      `job ${jobId} (dataset tees): succeeded, stage done, 100.0%`,
      `  test accuracy ${accuracy} on ${trained.metrics!.testImages} test images ` +
        `(${trained.metrics!.trainImages} training images, single-label)`,
      `  ${trained.publishNote!} (version ${jobId})`,
      '',
    ].join('\n');
    expect(result.stdout.endsWith(outcome)).toBe(true);

    expect(await icfRun(['status', 'tees', jobId, ...endpoint])).toEqual({ code: 0, stdout: outcome, stderr: '' });
    const latest = await icfRun(['status', 'tees', '--url', stack.host.url], {
      ICF_FUNCTION_KEY: hostKey(stack.host)!,
    });
    expect(latest.code).toBe(0);
    expect(latest.stdout).toMatch(/^job +status +stage +progress +accuracy +published +created$/m);
    expect(latest.stdout).toMatch(new RegExp(`^${jobId} +succeeded +done +100% +${accuracy} +yes `, 'm'));
    expect(await icfRun(['status', 'tees', 'nope', ...endpoint])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/404 .*has no training job "nope"/),
    });
  }, 360_000);

  it('classify prints the top predictions per file as the endpoint answers them, naming a bad file', async () => {
    expect(trained, 'the training test ran first').toBeDefined();
    const files = [];
    for (const [i, pattern] of (['striped', 'leopard'] as const).entries()) {
      const file = path.join(dir, `${pattern}.jpg`);
      await writeFile(file, await renderGarment({ item: 't-shirt', pattern, seed: 9000 + i }));
      files.push(file);
    }
    const result = await icfRun(['classify', 'tees', ...files, '/no/such/photo.jpg', '--top', '2', ...endpoint]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^icf: \/no\/such\/photo\.jpg does not exist \(ENOENT\): check the path/);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe(`model ${trained.jobId} (single-label)`);
    expect(lines[1]).toMatch(/^file +prediction +#2 +time$/);
    expect(lines).toHaveLength(2 + files.length);
    for (const [i, file] of files.entries()) {
      const response = await fetch(`${stack.host.url}/api/datasets/tees/classify?top=2`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', ...keyHeaders(stack.host) },
        body: readFileSync(file),
      });
      const answer = (await response.json()) as { predictions: { label: string; probability: number }[] };
      const [first, second] = answer.predictions.map((p) => `${p.label} ${(p.probability * 100).toFixed(1)}%`);
      expect(lines[2 + i]).toMatch(new RegExp(`^${file} +${first} +${second} +\\d+ ms$`));
    }
  }, 120_000);

  it('says a function key is needed, or was refused, when the app answers 401', async () => {
    expect(await icfRun(['models', 'tees', '--endpoint', stack.host.url])).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'icf: GET /api/datasets/tees/models: 401 Unauthorized: the app needs a function key: pass --key KEY or set ICF_FUNCTION_KEY\n',
    });
    expect(await icfRun(['models', 'tees', '--endpoint', stack.host.url, '--key', 'wrong'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/401 Unauthorized: the app refused the function key/),
    });
  });

  it('models lists the trained version as serving', async () => {
    const result = await icfRun(['models', 'tees', ...endpoint]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^\\* +${trained.jobId} `, 'm'));
  });
});

describe('icf errors name the value and a fix', () => {
  it('an endpoint that is not a URL', async () => {
    const result = await icfRun(['status', 'tees', '--endpoint', 'notaurl']);
    expect(result).toMatchObject({ code: 2 });
    expect(result.stderr).toBe(
      'icf: "notaurl" is not an http(s) URL: give one like http://localhost:7071 (--endpoint, or $ICF_URL)\n',
    );
  });

  it('a folder where files are wanted', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'icf-folder-'));
    const result = await icfRun(['classify', 'tees', dir, '--endpoint', 'http://127.0.0.1:9']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`icf: ${dir} is a folder, not a file: name the images in it (${dir}/*.jpg)\n`);
  });

  it('a storage account that cannot be reached, at once rather than after the retries', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'icf-unreachable-'));
    await mkdir(path.join(dir, 'cat'));
    await writeFile(path.join(dir, 'cat', 'a.png'), await noiseImage(3));
    const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
    // Port 9 (discard): nothing listens there.
    const connection =
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};` +
      ['Blob', 'Queue', 'Table'].map((service) => `${service}Endpoint=http://127.0.0.1:9/devstoreaccount1;`).join('');
    const result = await icfRun(['upload', dir, '--dataset', 'nowhere', '--connection-string', connection]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'icf: cannot reach the storage account at http://127.0.0.1:9 (ECONNREFUSED): is Azurite running (npm start ' +
        'starts it)? For another account pass --connection-string, or set $AzureWebJobsStorage\n',
    );
  });
});

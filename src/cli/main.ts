// icf: the command-line tool. `icf dhash FILE...` and `icf upload DIR --dataset NAME`.
import { readFile } from 'node:fs/promises';

import { Presets, SingleBar } from 'cli-progress';

import { loadCliSettings } from '../config';
import { decodeRasterLikePillow } from '../dataset/validate';
import { InvalidArgumentError } from '../errors';
import { dhashFromPixels } from '../image/dhash';
import { createStorageClients } from '../storage/clients';
import { BACKBONE_USAGE, backboneCommand } from './backbone';
import { describePlan, runCollection } from './collect';
import { EVAL_USAGE, evalCommand } from './eval';
import { printImagenetTop5 } from './imagenet';
import { parseArgs } from './options';
import { modelsCommand, RESULTS_USAGE, resultsCommand } from './results';
import { REVIEW_USAGE, reviewCommand } from './review';
import { uploadFolder } from './upload';

const USAGE = `usage:
  icf dhash FILE...                 print each file's 256-bit dHash (imagehash-compatible) like sha256sum
  icf upload DIR --dataset NAME     upload DIR/<label>/<file> to incoming/NAME/<label>/<file>; or, when DIR has
                                    labels.csv (filename,labels; labels separated by spaces), each image it
                                    lists from DIR/images/ to incoming/NAME/<label>+<label>.../<file>
  icf imagenet FILE...              print the backbone's top-5 ImageNet classes for each image
  icf collect plan FILE             print the queries and labels a collection plan makes
  icf collect run --dataset NAME    start a collection run and follow its progress
${REVIEW_USAGE}
${RESULTS_USAGE}
${EVAL_USAGE}
${BACKBONE_USAGE}
options for upload:
  --connection-string CS            storage account (default: $AzureWebJobsStorage, else the local Azurite)
  --concurrency N                   parallel uploads (default 8)
options for collect run:
  --plan FILE                       store this plan for the dataset first
  --url URL                         the app (default: $ICF_URL, else http://localhost:7071)
  --key KEY                         function key (default: $ICF_FUNCTION_KEY; not needed locally)`;

/** The decoder's pixel limit for hashing from the command line (the ingest limit is an app setting). */
const CLI_MAX_PIXELS = 256_000_000;

export async function run(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'dhash':
        return await dhashCommand(rest, out, err);
      case 'upload':
        return await uploadCommand(rest, out, err);
      case 'collect':
        return await collectCommand(rest, out);
      case 'models':
        return await modelsCommand(rest, out);
      case 'results':
        return await resultsCommand(rest, out);
      case 'eval':
        return await evalCommand(rest, out, err);
      case 'review':
        return await reviewCommand(rest, loadCliSettings(), out, USAGE);
      case 'backbone':
        return await backboneCommand(rest, out);
      case 'imagenet':
        if (rest.length === 0) throw new InvalidArgumentError(`imagenet needs at least one FILE\n${USAGE}`);
        return await printImagenetTop5(rest, out, err);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        out.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        err.write(`icf: unknown command "${command}"\n${USAGE}\n`);
        return 2;
    }
  } catch (error) {
    err.write(`icf: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof InvalidArgumentError ? 2 : 1;
  }
}

async function dhashCommand(files: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  if (files.length === 0) throw new InvalidArgumentError(`dhash needs at least one FILE\n${USAGE}`);
  let failures = 0;
  for (const file of files) {
    try {
      const content = await readFile(file);
      const hash = dhashFromPixels(await decodeRasterLikePillow(content, { limitInputPixels: CLI_MAX_PIXELS }));
      out.write(`${hash}  ${file}\n`);
    } catch (error) {
      failures++;
      err.write(`icf: ${file}: ${(error as Error).message}\n`);
    }
  }
  return failures === 0 ? 0 : 1;
}

async function uploadCommand(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { positional, values } = parseArgs(args, {
    values: ['dataset', 'connection-string', 'concurrency'],
    usage: USAGE,
  });
  const options = { positional, named: values };
  const dir = options.positional[0];
  const dataset = options.named['dataset'];
  if (!dir || options.positional.length > 1 || !dataset)
    throw new InvalidArgumentError(`upload needs DIR and --dataset NAME\n${USAGE}`);
  const connection = options.named['connection-string'] ?? loadCliSettings().storage ?? 'UseDevelopmentStorage=true';
  const concurrency = options.named['concurrency'] ? Number(options.named['concurrency']) : 8;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new InvalidArgumentError('--concurrency must be an integer from 1 to 64');

  const interactive = (out as NodeJS.WriteStream).isTTY === true;
  const bar = new SingleBar(
    {
      format: 'upload [{bar}] {value}/{total} {file}',
      stream: out,
      noTTYOutput: !interactive,
      notTTYSchedule: 2000,
    },
    Presets.shades_classic,
  );
  let started = false;
  const result = await uploadFolder(createStorageClients(connection).blobs, dir, {
    dataset,
    concurrency,
    onProgress: (done, total, file) => {
      if (!started) {
        bar.start(total, 0, { file: '' });
        started = true;
      }
      bar.update(done, { file: `${file.label}/${file.name}` });
    },
  });
  if (started) bar.stop();
  const why = result.layout === 'multi-label' ? 'not listed in labels.csv' : 'files must be in DIR/<label>/';
  for (const skipped of result.skipped) err.write(`icf: skipped ${skipped} (${why})\n`);
  out.write(`uploaded ${result.uploaded} files (${result.bytes} bytes) to incoming/${dataset}/\n`);
  return result.uploaded > 0 ? 0 : 1;
}

async function collectCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'plan') {
    if (rest.length !== 1) throw new InvalidArgumentError(`collect plan needs one FILE\n${USAGE}`);
    await describePlan(rest[0]!, out);
    return 0;
  }
  if (sub === 'run') {
    const { positional, values } = parseArgs(rest, { values: ['dataset', 'plan', 'url', 'key'], usage: USAGE });
    const options = { positional, named: values };
    const dataset = options.named['dataset'];
    if (!dataset || options.positional.length > 0)
      throw new InvalidArgumentError(`collect run needs --dataset NAME\n${USAGE}`);
    const settings = loadCliSettings();
    const key = options.named['key'] ?? settings.functionKey;
    const report = await runCollection({
      dataset,
      baseUrl: options.named['url'] ?? settings.appUrl ?? 'http://localhost:7071',
      out,
      ...(key ? { key } : {}),
      ...(options.named['plan'] ? { planFile: options.named['plan'] } : {}),
    });
    return report.queriesFailed === 0 ? 0 : 1;
  }
  throw new InvalidArgumentError(`collect needs "plan" or "run"\n${USAGE}`);
}

if (require.main === module) {
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

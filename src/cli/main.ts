// icf: the command-line tool. Dispatches to one module per command; `icf COMMAND --help` prints that command's own
// usage, `icf --version` the package's version, and a usage error is one line with a pointer to the help.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { InvalidArgumentError } from '../errors';
import { projectRoot } from '../util/paths';
import { BACKBONE_USAGE, backboneCommand } from './backbone';
import { CLASSIFY_USAGE, classifyCommand } from './classify';
import { COLLECT_USAGE, collectCommand } from './collect';
import { DHASH_USAGE, dhashCommand } from './dhash';
import { describeCliError } from './errors';
import { EVAL_USAGE, evalCommand } from './eval';
import { IMAGENET_USAGE, imagenetCommand } from './imagenet';
import { IMPORT_USAGE, importCommand } from './import';
import { wantsHelp } from './options';
import { MODELS_USAGE, modelsCommand, RESULTS_USAGE, resultsCommand } from './results';
import { REVIEW_USAGE, reviewCommand } from './review';
import { STATUS_USAGE, statusCommand, TRAIN_USAGE, trainCommand } from './train';
import { UPLOAD_USAGE, uploadCommand } from './uploadCommand';

type Streams = { out: NodeJS.WritableStream; err: NodeJS.WritableStream };

interface Command {
  /** One line for the overview. */
  summary: string;
  /** The command's own help. */
  usage: string;
  run(args: string[], streams: Streams): Promise<number>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  upload: {
    summary: 'upload a folder of labelled photos (DIR/<label>/<file>, or labels.csv) to a dataset',
    usage: UPLOAD_USAGE,
    run: (args, { out, err }) => uploadCommand(args, out, err),
  },
  import: {
    summary: "copy a Custom Vision project's tagged images and tags into a dataset",
    usage: IMPORT_USAGE,
    run: (args, { out, err }) => importCommand(args, out, err),
  },
  collect: {
    summary: "print a collection plan's queries, or run a collection from the web into a dataset",
    usage: COLLECT_USAGE,
    run: (args, { out }) => collectCommand(args, out),
  },
  train: {
    summary: 'train a model on a dataset (--wait to follow it)',
    usage: TRAIN_USAGE,
    run: (args, { out }) => trainCommand(args, out),
  },
  status: {
    summary: 'a training job, or the latest jobs',
    usage: STATUS_USAGE,
    run: (args, { out }) => statusCommand(args, out),
  },
  classify: {
    summary: 'classify image files with the serving model',
    usage: CLASSIFY_USAGE,
    run: (args, { out, err }) => classifyCommand(args, out, err),
  },
  models: {
    summary: 'the model versions, their test metrics and which one serves',
    usage: MODELS_USAGE,
    run: (args, { out }) => modelsCommand(args, out),
  },
  results: {
    summary: "download a model version's files (metrics, plots, log, model)",
    usage: RESULTS_USAGE,
    run: (args, { out }) => resultsCommand(args, out),
  },
  review: {
    summary: 'suspect labels, conflicting near duplicates and test mistakes',
    usage: REVIEW_USAGE,
    run: (args, { out }) => reviewCommand(args, out),
  },
  eval: {
    summary: 'cross-validate the trainer on a local folder (offline)',
    usage: EVAL_USAGE,
    run: (args, { out, err }) => evalCommand(args, out, err),
  },
  backbone: {
    summary: 'register or list backbones besides the built-in ResNet50',
    usage: BACKBONE_USAGE,
    run: (args, { out }) => backboneCommand(args, out),
  },
  dhash: {
    summary: "print files' 256-bit dHash (imagehash-compatible)",
    usage: DHASH_USAGE,
    run: (args, { out, err }) => dhashCommand(args, out, err),
  },
  imagenet: {
    summary: "print the backbone's top-5 ImageNet classes for images",
    usage: IMAGENET_USAGE,
    run: (args, { out, err }) => imagenetCommand(args, out, err),
  },
};

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return `usage: icf COMMAND [options]   (icf COMMAND --help for its arguments and options)
commands:
${lines.join('\n')}
  icf --version prints the version`;
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

export async function run(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    err.write(`${overview()}\n`);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? args[0] : undefined;
    const command = topic === undefined ? undefined : COMMANDS[topic];
    out.write(`${command ? command.usage : overview()}\n`);
    return topic === undefined || command ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    out.write(`icf ${packageVersion()}\n`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    err.write(`icf: unknown command "${name}"\nsee icf --help\n`);
    return 2;
  }
  if (wantsHelp(args)) {
    out.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(args, { out, err });
  } catch (error) {
    err.write(`icf: ${describeCliError(error)}\n`);
    return error instanceof InvalidArgumentError ? 2 : 1;
  }
}

if (require.main === module) {
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

// `icf classify DATASET FILE...`: each file through the app's classify endpoint (one request per file, so a bad file
// is named and the others still answered), printed as a table of the top predictions per file.
import { readFile } from 'node:fs/promises';

import type { ImageResult } from '../serve/classifier';
import { apiClientFor, APP_OPTIONS, APP_OPTIONS_USAGE } from './apiClient';
import { describeCliError } from './errors';
import { invalidOption, parseArgs, UsageError } from './options';
import { table } from './train';

export const CLASSIFY_USAGE = `usage: icf classify DATASET FILE... [options]
  classify each image with the dataset's serving model and print its top predictions
options:
  --top N                           predictions per file (default 3)
  --json                            print the app's answers as JSON, one per file
${APP_OPTIONS_USAGE}`;

interface ClassifyAnswer {
  modelVersion: string;
  task: string;
  predictions: ImageResult['predictions'];
  timingInMs: { total: number };
}

export async function classifyCommand(
  args: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const { positional, values, flags } = parseArgs(args, {
    values: [...APP_OPTIONS, 'top'],
    flags: ['json'],
    command: 'classify',
  });
  const [dataset, ...files] = positional;
  if (dataset === undefined || files.length === 0)
    throw new UsageError('classify', 'classify needs DATASET and at least one FILE');
  const top = Number(values.top ?? '3');
  if (!Number.isInteger(top) || top < 1 || top > 100)
    throw invalidOption('classify', 'top', 'an integer from 1 to 100', values.top);
  const api = apiClientFor(values);
  const rows: string[][] = [];
  let model: string | undefined;
  let failures = 0;
  for (const file of files) {
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch (error) {
      failures++;
      err.write(`icf: ${describeCliError(error, file)}\n`);
      continue;
    }
    try {
      const response = await api.fetch(`datasets/${encodeURIComponent(dataset)}/classify?top=${top}`, 'POST', {
        body: content,
        headers: { 'content-type': 'application/octet-stream' },
      });
      const answer = (await response.json()) as ClassifyAnswer;
      if (flags.has('json')) out.write(`${JSON.stringify({ file, ...answer })}\n`);
      model ??= `model ${answer.modelVersion} (${answer.task})`;
      rows.push([
        file,
        ...answer.predictions.map((p) => `${p.label} ${(p.probability * 100).toFixed(1)}%`),
        ...Array<string>(Math.max(0, top - answer.predictions.length)).fill(''),
        `${Math.round(answer.timingInMs.total)} ms`,
      ]);
    } catch (error) {
      failures++;
      err.write(`icf: ${describeCliError(error, file)}\n`);
    }
  }
  if (!flags.has('json') && rows.length > 0) {
    const ranks = Array.from({ length: top }, (_, i) => (i === 0 ? 'prediction' : `#${i + 1}`));
    out.write(`${model}\n${table(['file', ...ranks, 'time'], rows)}`);
  }
  return failures === 0 ? 0 : 1;
}

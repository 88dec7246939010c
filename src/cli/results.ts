// `icf models DATASET` lists a dataset's stored model versions with their test metrics and which one serves;
// `icf results DATASET [VERSION] --out DIR` downloads a version's files (the serving one by default): metrics.json,
// the plots, training.log and model.onnx. Both go through the HTTP API.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

import type { ModelList, ModelVersionDetail } from '../model/registry';
import { apiClientFor, APP_OPTIONS, APP_OPTIONS_USAGE } from './apiClient';
import { parseArgs, UsageError } from './options';

export const MODELS_USAGE = `usage: icf models DATASET [options]
  print the dataset's model versions, their test metrics and which one serves
options:
${APP_OPTIONS_USAGE}`;

export const RESULTS_USAGE = `usage: icf results DATASET [VERSION] --out DIR [options]
  download a model version's files (default: the serving version) into DIR: metrics.json, the plots,
  training.log and model.onnx
options:
  --out DIR                         where to write the files (created if missing)
${APP_OPTIONS_USAGE}`;

export async function modelsCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const { positional, values } = parseArgs(args, { values: APP_OPTIONS, command: 'models' });
  const [dataset] = positional;
  if (dataset === undefined || positional.length !== 1) throw new UsageError('models', 'models needs one DATASET');
  const api = apiClientFor(values);
  const list = await api.getJson<ModelList>(`datasets/${encodeURIComponent(dataset)}/models`);
  if (list.versions.length === 0) {
    out.write(`dataset "${dataset}" has no models yet\n`);
    return 0;
  }
  const rows = list.versions.map((v) => [
    v.serving ? '*' : ' ',
    v.version,
    v.storedAt ?? '-',
    v.metrics?.task ?? '-',
    v.metrics?.accuracy !== undefined ? percent(v.metrics.accuracy) : '-',
    v.metrics?.mAP !== undefined ? percent(v.metrics.mAP) : '-',
    v.metrics?.count !== undefined ? String(v.metrics.count) : '-',
  ]);
  const header = [' ', 'version', 'stored', 'task', 'accuracy', 'mAP', 'test images'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [header, ...rows])
    out.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  out.write(list.serving ? `* serves (${list.serving.version})\n` : 'no version serves yet\n');
  return 0;
}

export async function resultsCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const { positional, values } = parseArgs(args, {
    values: [...APP_OPTIONS, 'out'],
    command: 'results',
  });
  const [dataset, requested] = positional;
  if (dataset === undefined || positional.length > 2 || !values.out)
    throw new UsageError('results', 'results needs DATASET and --out DIR');
  const api = apiClientFor(values);
  const base = `datasets/${encodeURIComponent(dataset)}/models`;
  let version = requested;
  if (version === undefined) {
    const list = await api.getJson<ModelList>(base);
    if (!list.serving)
      throw new Error(`dataset "${dataset}" has no serving model; name a VERSION (icf models ${dataset})`);
    version = list.serving.version;
  }
  const detail = await api.getJson<ModelVersionDetail>(`${base}/${encodeURIComponent(version)}`);
  const dir = path.resolve(values.out);
  await mkdir(dir, { recursive: true });
  let bytes = 0;
  for (const file of detail.files) {
    const response = await api.fetch(`${base}/${encodeURIComponent(version)}/files/${encodeURIComponent(file.name)}`);
    // The names are the app's single path segments (it refuses others), so they stay inside DIR.
    const target = path.join(dir, path.basename(file.name));
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(target));
    bytes += file.sizeInBytes;
    out.write(`${file.name}  ${file.sizeInBytes} bytes\n`);
  }
  out.write(`downloaded ${detail.files.length} files (${bytes} bytes) of version ${version} to ${dir}\n`);
  return 0;
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

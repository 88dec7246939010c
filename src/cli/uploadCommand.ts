// `icf upload DIR --dataset NAME [--wait]`: the folder into the incoming container (upload.ts) with a progress bar;
// with --wait, then follows ingest and reports what became of every file, failing when any was rejected.
import { BlobServiceClient } from '@azure/storage-blob';
import { Presets, SingleBar } from 'cli-progress';

import { loadCliSettings } from '../config';
import { Catalog, type ImageRecord } from '../dataset/catalog';
import { createStorageClients } from '../storage/clients';
import { CATALOG_TABLE, INCOMING_CONTAINER } from '../storage/names';
import { waitForIngest } from './ingestWait';
import { invalidOption, parseArgs, UsageError } from './options';
import { uploadFolder } from './upload';

export const UPLOAD_USAGE = `usage: icf upload DIR --dataset NAME [options]
  upload DIR/<label>/<file> to incoming/NAME/<label>/<file>, where ingest validates, deduplicates and splits it;
  or, when DIR has labels.csv (filename,labels; labels separated by spaces), each image it lists from DIR/images/
  to incoming/NAME/<label>+<label>.../<file>
options:
  --dataset NAME                    the dataset (3-63 lower-case letters, digits and single hyphens)
  --wait                            wait for ingest, then print accepted, duplicates, near duplicates and rejected
                                    files with their reasons; exit 1 when any file was rejected
  --allow-rejected                  with --wait: exit 0 even when files were rejected
  --timeout-s S                     with --wait: give up after S seconds (default 600)
  --concurrency N                   parallel uploads (default 8)
  --connection-string CS            storage account (default: $AzureWebJobsStorage, else the local Azurite)`;

export async function uploadCommand(
  args: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const { positional, values, flags } = parseArgs(args, {
    values: ['dataset', 'connection-string', 'concurrency', 'timeout-s'],
    flags: ['wait', 'allow-rejected'],
    command: 'upload',
  });
  const [dir] = positional;
  const dataset = values.dataset;
  if (dir === undefined || positional.length > 1) throw new UsageError('upload', 'upload needs one DIR');
  if (!dataset) throw new UsageError('upload', 'upload needs --dataset NAME');
  const concurrency = Number(values.concurrency ?? '8');
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw invalidOption('upload', 'concurrency', 'an integer from 1 to 64', values.concurrency);
  const timeoutInS = Number(values['timeout-s'] ?? '600');
  if (!Number.isFinite(timeoutInS) || timeoutInS <= 0)
    throw invalidOption('upload', 'timeout-s', 'a positive number of seconds', values['timeout-s']);
  const connection = values['connection-string'] ?? loadCliSettings().storage ?? 'UseDevelopmentStorage=true';
  const storage = createStorageClients(connection);
  // One try, not the SDK's four (about 17 s), so that an account that cannot be reached is said at once.
  await new BlobServiceClient(storage.blobs.url, storage.blobs.credential, { retryOptions: { maxTries: 1 } })
    .getContainerClient(INCOMING_CONTAINER)
    .exists();

  let bar: SingleBar | undefined;
  const result = await uploadFolder(storage.blobs, dir, {
    dataset,
    concurrency,
    onProgress: (done, total, file) => {
      bar ??= startBar(out, 'upload [{bar}] {value}/{total} {file}', total);
      bar.update(done, { file: `${file.label}/${file.name}` });
    },
  });
  bar?.stop();
  const why = result.layout === 'multi-label' ? 'not listed in labels.csv' : 'files must be in DIR/<label>/';
  for (const skipped of result.skipped) err.write(`icf: skipped ${skipped} (${why})\n`);
  out.write(`uploaded ${result.uploaded} files (${result.bytes} bytes) to incoming/${dataset}/\n`);
  if (result.uploaded === 0) return 1;
  if (!flags.has('wait')) return 0;

  const ingestBar = startBar(
    out,
    'ingest [{bar}] {value}/{total} files recorded (ETA {eta_formatted})',
    result.uploaded,
  );
  const outcome = await waitForIngest(new Catalog(storage.table(CATALOG_TABLE)), dataset, result.blobNames, {
    timeoutInMs: timeoutInS * 1000,
    onProgress: (recorded) => ingestBar.update(recorded),
  });
  ingestBar.stop();
  out.write(describeOutcome(outcome.records));
  if (outcome.missing.length > 0) {
    err.write(
      `icf: ingest had not recorded ${outcome.missing.length} of ${result.uploaded} files after ${timeoutInS} s ` +
        `(first: ${outcome.missing[0]}); is the app running (npm start)?\n`,
    );
    return 1;
  }
  const rejected = outcome.records.filter((record) => record.status === 'rejected').length;
  return rejected > 0 && !flags.has('allow-rejected') ? 1 : 0;
}

/** Counts by outcome, then one line per file that was not simply accepted. */
function describeOutcome(records: readonly ImageRecord[]): string {
  const count = (status: ImageRecord['status']) => records.filter((record) => record.status === status).length;
  const lines = [
    `ingest: ${count('accepted')} accepted, ${count('duplicate')} duplicates, ${count('nearDuplicate')} near ` +
      `duplicates, ${count('rejected')} rejected`,
  ];
  const sorted = [...records].sort((a, b) => a.blobName.localeCompare(b.blobName));
  for (const record of sorted) {
    if (record.status === 'rejected')
      lines.push(`  rejected ${record.blobName}: ${record.reasonCode ?? 'rejected'}: ${record.reason ?? ''}`.trimEnd());
    else if (record.status === 'duplicate' || record.status === 'nearDuplicate')
      lines.push(
        `  ${record.status === 'duplicate' ? 'duplicate' : 'near duplicate'} ${record.blobName} ` +
          `of ${record.relatedTo ?? '?'}` +
          (record.distanceBits !== undefined && record.status === 'nearDuplicate'
            ? ` (${record.distanceBits} bits)`
            : ''),
      );
  }
  return `${lines.join('\n')}\n`;
}

function startBar(out: NodeJS.WritableStream, format: string, total: number): SingleBar {
  const bar = new SingleBar(
    { format, stream: out, noTTYOutput: (out as NodeJS.WriteStream).isTTY !== true, notTTYSchedule: 5000 },
    Presets.shades_classic,
  );
  bar.start(total, 0, { file: '' });
  return bar;
}

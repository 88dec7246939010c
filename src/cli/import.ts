// `icf import customvision --endpoint URL --training-key KEY --project ID [--dataset NAME]`: copies a Custom
// Vision project's tagged images and tags into a dataset through Microsoft's own training SDK (getProject, getTags,
// getTaggedImages page by page, each image's originalImageUri), uploading each image to incoming/ where ingest
// validates, deduplicates and splits it, then waits for ingest and prints a summary. Each image lands under a name
// made from its Custom Vision id, so a rerun after an interruption skips what is already there.
import { TrainingAPIClient, type TrainingAPIModels } from '@azure/cognitiveservices-customvision-training';
import type { WebResourceLike } from '@azure/ms-rest-js';
import { Presets, SingleBar } from 'cli-progress';

import { sniffImageFormat } from '../collect/download';
import { loadCliSettings } from '../config';
import { datasetNameFor, labelForTag } from '../customvision/ids';
import { Catalog, imageIdFor } from '../dataset/catalog';
import { assertDatasetName, labelFolderFor } from '../dataset/names';
import { InvalidArgumentError } from '../errors';
import { createStorageClients } from '../storage/clients';
import { CATALOG_TABLE, INCOMING_CONTAINER, incomingBlobName } from '../storage/names';
import { waitForIngest } from './ingestWait';
import { invalidOption, parseArgs, UsageError } from './options';

export const IMPORT_USAGE = `usage: icf import customvision --endpoint URL --training-key KEY --project ID [options]
  copy a Custom Vision project's tagged images and tags into a dataset (through the Custom Vision training SDK:
  its tags, its tagged images page by page, each image's original); ingest validates, deduplicates and splits them.
  A rerun after an interruption goes on where it stopped: images already copied are skipped.
options:
  --endpoint URL                    the Custom Vision resource (https://<name>.cognitiveservices.azure.com/)
  --training-key KEY                its training key
  --project ID                      the project's id (a UUID)
  --dataset NAME                    the dataset to copy into (default: cv-<project name>-<id prefix>)
  --timeout-s S                     wait at most S seconds for ingest (default 600)
  --no-wait                         do not wait for ingest (no duplicate counts then)
  --connection-string CS            storage account (default: $AzureWebJobsStorage, else the local Azurite)`;

/** The page size getTaggedImages allows at most. */
const PAGE = 256;

export async function importCommand(
  args: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const { positional, values, flags } = parseArgs(args, {
    values: ['endpoint', 'training-key', 'project', 'dataset', 'timeout-s', 'connection-string'],
    flags: ['no-wait'],
    command: 'import',
  });
  if (positional[0] !== 'customvision' || positional.length !== 1)
    throw new UsageError('import', 'import takes one source: customvision');
  const endpoint = values.endpoint;
  const key = values['training-key'];
  const projectId = values.project;
  if (!endpoint) throw new UsageError('import', 'import customvision needs --endpoint URL');
  if (!key) throw new UsageError('import', 'import customvision needs --training-key KEY');
  if (!projectId) throw new UsageError('import', 'import customvision needs --project ID');
  try {
    new URL(endpoint);
  } catch {
    throw invalidOption('import', 'endpoint', 'a URL such as https://<name>.cognitiveservices.azure.com/', endpoint);
  }
  const timeoutInS = Number(values['timeout-s'] ?? '600');
  if (!Number.isFinite(timeoutInS) || timeoutInS <= 0)
    throw invalidOption('import', 'timeout-s', 'a positive number of seconds', values['timeout-s']);

  // The SDK signs each request with the key as Custom Vision's samples do (ApiKeyCredentials, written out).
  const credentials = {
    signRequest: (request: WebResourceLike) => {
      request.headers.set('Training-Key', key);
      return Promise.resolve(request);
    },
  };
  const client = new TrainingAPIClient(credentials, endpoint.replace(/\/+$/, ''));
  const project = await client.getProject(projectId);
  const dataset = values.dataset ?? datasetNameFor(project.name ?? 'project', projectId);
  assertDatasetName(dataset);
  const tags: TrainingAPIModels.Tag[] = await client.getTags(projectId);
  const taken = new Set<string>();
  const labels = new Map<string, string>();
  for (const tag of tags) {
    const label = labelForTag(tag.name ?? 'tag', taken);
    taken.add(label.toLowerCase());
    labels.set(tag.id!, label);
  }
  const expected = (await client.getTaggedImageCount(projectId)).body;
  out.write(
    `importing project "${project.name}" (${projectId}): ${tags.length} tags, ${expected} tagged images, into dataset ${dataset}\n`,
  );

  const connection = values['connection-string'] ?? loadCliSettings().storage ?? 'UseDevelopmentStorage=true';
  const storage = createStorageClients(connection);
  const incoming = storage.blobs.getContainerClient(INCOMING_CONTAINER);
  await incoming.createIfNotExists();
  const catalog = new Catalog(storage.table(CATALOG_TABLE));
  const bar = new SingleBar(
    {
      format: 'import [{bar}] {value}/{total} images (ETA {eta_formatted})',
      stream: out,
      noTTYOutput: (out as NodeJS.WriteStream).isTTY !== true,
      notTTYSchedule: 5000,
    },
    Presets.shades_classic,
  );
  bar.start(expected, 0);
  const perTag = new Map<string, number>();
  const blobNames: string[] = [];
  let copied = 0;
  let skipped = 0;
  let seen = 0;
  for (let skip = 0; ; skip += PAGE) {
    const page: TrainingAPIModels.Image[] = await client.getTaggedImages(projectId, { take: PAGE, skip });
    for (const image of page) {
      const imageLabels = (image.tags ?? []).flatMap((tag) => {
        const label = labels.get(tag.tagId!);
        return label ? [label] : [];
      });
      seen++;
      bar.update(seen);
      if (imageLabels.length === 0 || !image.originalImageUri) continue;
      const folder = labelFolderFor(imageLabels);
      const existing = await findCopy(catalog, incoming, dataset, folder, image.id!);
      const blobName = existing ?? (await copyImage(incoming, dataset, folder, image));
      blobNames.push(blobName);
      if (existing) skipped++;
      else copied++;
      for (const label of imageLabels) perTag.set(label, (perTag.get(label) ?? 0) + 1);
    }
    if (page.length < PAGE) break;
  }
  bar.stop();
  out.write(`copied ${copied} images, ${skipped} already there from an earlier run\n`);
  for (const [label, count] of [...perTag].sort((a, b) => a[0].localeCompare(b[0])))
    out.write(`  ${label}: ${count}\n`);
  if (flags.has('no-wait') || blobNames.length === 0) return blobNames.length === 0 ? 1 : 0;

  const outcome = await waitForIngest(catalog, dataset, blobNames, { timeoutInMs: timeoutInS * 1000 });
  const count = (status: string) => outcome.records.filter((record) => record.status === status).length;
  out.write(
    `ingest: ${count('accepted')} accepted, ${count('duplicate')} duplicates, ${count('nearDuplicate')} near duplicates, ${count('rejected')} rejected\n`,
  );
  if (outcome.missing.length > 0) {
    err.write(
      `icf: ingest had not recorded ${outcome.missing.length} of ${blobNames.length} images after ${timeoutInS} s; is the app running (npm start)? Run the import again to go on\n`,
    );
    return 1;
  }
  return 0;
}

/** The name of an earlier run's copy of the image, if there is one (in incoming, or already ingested). */
async function findCopy(
  catalog: Catalog,
  incoming: ReturnType<ReturnType<typeof createStorageClients>['blobs']['getContainerClient']>,
  dataset: string,
  folder: string,
  imageId: string,
): Promise<string | undefined> {
  for (const ext of ['jpg', 'png', 'gif', 'bmp', 'webp', 'tiff', 'avif', 'bin']) {
    const name = `${imageId}.${ext}`;
    const blobName = incomingBlobName(dataset, folder, name);
    if (await catalog.getImage(dataset, imageIdFor(folder, name))) return blobName;
    if (await incoming.getBlockBlobClient(blobName).exists()) return blobName;
  }
  return undefined;
}

async function copyImage(
  incoming: ReturnType<ReturnType<typeof createStorageClients>['blobs']['getContainerClient']>,
  dataset: string,
  folder: string,
  image: TrainingAPIModels.Image,
): Promise<string> {
  const response = await fetch(image.originalImageUri!);
  if (!response.ok)
    throw new InvalidArgumentError(`image ${image.id}: its originalImageUri answered HTTP ${response.status}`);
  const content = Buffer.from(await response.arrayBuffer());
  const format = sniffImageFormat(content);
  const ext = format === 'jpeg' ? 'jpg' : (format ?? 'bin');
  const blobName = incomingBlobName(dataset, folder, `${image.id}.${ext}`);
  await incoming.getBlockBlobClient(blobName).uploadData(content, {
    metadata: { source: 'customvision-import', customvision_image: image.id! },
  });
  return blobName;
}

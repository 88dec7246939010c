// Read-side views of a dataset for the HTTP API.
import { invalidArgument, InvalidArgumentError } from '../errors';
import { type Catalog, IMAGE_STATUSES, type ImageStatus } from './catalog';
import { assertDatasetName, checkLabelFolder, labelsOf } from './names';

export interface DatasetSummary {
  dataset: string;
  images: Record<ImageStatus, number>;
  labels: Record<string, { train: number; test: number }>;
}

export async function getDatasetSummary(catalog: Catalog, dataset: string): Promise<DatasetSummary> {
  assertDatasetName(dataset);
  const stats = await catalog.requireStats(dataset);
  return { dataset, images: stats.images, labels: stats.labels };
}

export interface ListImagesQuery {
  status?: string | null;
  label?: string | null;
  pageSize?: string | null;
  continuationToken?: string | null;
}

export async function listDatasetImages(catalog: Catalog, dataset: string, query: ListImagesQuery) {
  assertDatasetName(dataset);
  const status = query.status || undefined;
  if (status !== undefined && !IMAGE_STATUSES.includes(status as ImageStatus)) {
    throw invalidArgument('status', `one of ${IMAGE_STATUSES.join(', ')}`, status);
  }
  const label = query.label || undefined;
  if (label !== undefined) {
    const problem = checkLabelFolder(label);
    if (problem) throw new InvalidArgumentError(problem);
  }
  let pageSize = 100;
  if (query.pageSize) {
    pageSize = Number(query.pageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      throw invalidArgument('pageSize', 'an integer from 1 to 1000', query.pageSize);
    }
  }
  await catalog.requireStats(dataset);
  const page = await catalog.listImages(dataset, {
    pageSize,
    ...(status ? { status: status as ImageStatus } : {}),
    ...(label ? { label } : {}),
    ...(query.continuationToken ? { continuationToken: query.continuationToken } : {}),
  });
  // `label` is the image's label folder; `labels` spells out a multi-label image's set.
  return { ...page, images: page.images.map((image) => ({ ...image, labels: labelsOf(image.label) })) };
}

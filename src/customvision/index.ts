// Custom Vision's API, answered by the app: what the HTTP edge builds once per set of services and routes requests
// to. The parts come from the composition root; nothing here reads settings or knows the Functions SDK.
import type { BlobServiceClient } from '@azure/storage-blob';

import { downloadImage } from '../collect/download';
import type { AppSettings } from '../config';
import type { Catalog } from '../dataset/catalog';
import type { Ingestor } from '../dataset/ingest';
import type { Classifier } from '../serve/classifier';
import { CONFIG_CONTAINER, INCOMING_CONTAINER } from '../storage/names';
import type { Training } from '../train/requests';
import { IterationModels } from './iterationModels';
import { KeyCheck } from './keys';
import { CustomVision } from './service';
import { ProjectStore } from './store';

export { toCustomVisionError } from './errors';
export { type CustomVisionApi, type CustomVisionRequest, type CustomVisionResponse, route } from './router';
export { CustomVision } from './service';

export interface CustomVisionParts {
  settings: Pick<AppSettings, 'ingest' | 'collect' | 'customVision'>;
  blobs: BlobServiceClient;
  catalog: Catalog;
  ingestor: Ingestor;
  training: Training;
  classifier: Classifier;
  log?: (message: string) => void;
}

export interface CustomVisionApp {
  cv: CustomVision;
  keys: KeyCheck;
}

export function createCustomVision(parts: CustomVisionParts): CustomVisionApp {
  const { settings, blobs } = parts;
  const readImage = (container: string, blobName: string) =>
    blobs.getContainerClient(container).getBlockBlobClient(blobName).downloadToBuffer();
  const cv = new CustomVision({
    store: new ProjectStore(blobs.getContainerClient(CONFIG_CONTAINER)),
    catalog: parts.catalog,
    ingestor: parts.ingestor,
    incoming: blobs.getContainerClient(INCOMING_CONTAINER),
    training: parts.training,
    classifier: parts.classifier,
    iterationModels: new IterationModels(parts.training.models, parts.catalog, settings.ingest, readImage),
    ingest: settings.ingest,
    download: (url, maxBytes) => downloadImage(url, { ...settings.collect.download, maxBytes }),
    readImage,
  });
  return { cv, keys: new KeyCheck(settings.customVision, parts.log) };
}

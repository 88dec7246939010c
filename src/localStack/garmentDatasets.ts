// Small labelled data sets of generated garment photos (three patterns), uploaded to `incoming` and ingested
// through the services: what end-to-end tests and benchmarks train on. Fixed seeds: the same images every time.
import sharp from 'sharp';

import { renderGarment } from '../collect/syntheticImages';
import { labelFolderFor } from '../dataset/names';
import type { Services } from '../services';
import { INCOMING_CONTAINER } from '../storage/names';

const PATTERNS = ['striped', 'dotted', 'leopard'] as const;

/** Uploads and ingests 8 generated t-shirts of each pattern into `dataset` (labels: striped, dotted, leopard). */
export async function seedGarments(services: Services, dataset: string): Promise<void> {
  const incoming = services.storage.blobs.getContainerClient(INCOMING_CONTAINER);
  for (const pattern of PATTERNS) {
    for (let i = 0; i < 8; i++) {
      const blobName = `${dataset}/${pattern}/${pattern}-${i}.jpg`;
      const content = await renderGarment({ item: 't-shirt', pattern, seed: 500 + i * 7 + pattern.length });
      await incoming.getBlockBlobClient(blobName).uploadData(content);
      await services.ingestor.ingest({ blobName, content });
    }
  }
}

/**
 * Uploads and ingests a multi-label set: 6 images of each label set of the three patterns (one pattern, or two
 * different ones), each image two generated t-shirts side by side, in `incoming/{dataset}/{a+b}/`. Returns the sets.
 */
export async function seedGarmentPairs(services: Services, dataset: string): Promise<string[][]> {
  const incoming = services.storage.blobs.getContainerClient(INCOMING_CONTAINER);
  const sets = [
    ['dotted'],
    ['leopard'],
    ['striped'],
    ['dotted', 'leopard'],
    ['dotted', 'striped'],
    ['leopard', 'striped'],
  ];
  for (const [s, set] of sets.entries()) {
    for (let i = 0; i < 6; i++) {
      const seed = 900 + s * 50 + i * 7;
      const halves = await Promise.all(
        [0, 1].map((side) =>
          renderGarment({ item: 't-shirt', pattern: set[side] ?? set[0]!, seed: seed + side, width: 240, height: 240 }),
        ),
      );
      const content = await sharp({ create: { width: 480, height: 240, channels: 3, background: '#ffffff' } })
        .composite(halves.map((input, side) => ({ input, left: side * 240, top: 0 })))
        .jpeg({ quality: 90 })
        .toBuffer();
      const blobName = `${dataset}/${labelFolderFor(set)}/${set.join('-')}-${i}.jpg`;
      await incoming.getBlockBlobClient(blobName).uploadData(content);
      await services.ingestor.ingest({ blobName, content });
    }
  }
  return sets;
}

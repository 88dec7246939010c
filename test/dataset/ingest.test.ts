// Ingest against a real (in-memory) Azurite: statuses, reasons, quarantine, idempotence, concurrency, splits.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Ingestor } from '../../src/dataset/ingest';
import { desiredTestCount } from '../../src/dataset/split';
import { createServices, type Services } from '../../src/services';
import { INCOMING_CONTAINER, QUARANTINE_CONTAINER } from '../../src/storage/names';
import { PixelBudget } from '../../src/util/pixelBudget';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { noiseImage } from '../support/images';
import { itWithShared, sharedPath } from '../support/shared';

let storage: TestStorage;
let services: Services;

const fixture = (name: string) => readFileSync(path.join(sharedPath('fixtures', 'dhash'), name));

async function put(blobName: string, content: Buffer, metadata: Record<string, string> = {}) {
  const blob = services.storage.blobs.getContainerClient(INCOMING_CONTAINER).getBlockBlobClient(blobName);
  const response = await blob.uploadData(content, { metadata });
  return { blobName, content, metadata, etag: response.etag! };
}

beforeAll(async () => {
  storage = await startTestStorage();
  services = await createServices({ AzureWebJobsStorage: storage.azurite.connectionString });
});
afterAll(async () => {
  await storage.azurite.close();
});

describe('ingest', () => {
  it('does not decode an exact copy: the original record says what a decode would', async () => {
    // A solid 4000x4000 PNG is small as a file and 48 MB decoded; its copies must not each cost that.
    const big = await sharp({ create: { width: 4000, height: 4000, channels: 3, background: '#4a7' } })
      .png()
      .toBuffer();
    let decodes = 0;
    class CountingBudget extends PixelBudget {
      override run<T>(pixels: number, work: () => Promise<T>): Promise<T> {
        decodes++;
        return super.run(pixels, work);
      }
    }
    const ingestor = new Ingestor({
      catalog: services.catalog,
      incoming: services.storage.blobs.getContainerClient(INCOMING_CONTAINER),
      quarantine: services.storage.blobs.getContainerClient(QUARANTINE_CONTAINER),
      ingest: services.settings.ingest,
      dedup: services.settings.dedup,
      pixelBudget: new CountingBudget(services.settings.ingest.decodePixelBudget),
    });
    const original = await ingestor.ingest(await put('solids/green/one.png', big));
    expect([original.status, decodes]).toEqual(['accepted', 1]);
    const copies = await Promise.all(
      ['two.png', 'three.png'].map(async (name) => ingestor.ingest(await put(`solids/green/${name}`, big))),
    );
    expect(copies.map((c) => c.status)).toEqual(['duplicate', 'duplicate']);
    expect(decodes).toBe(1);
    const first = (await services.catalog.getImage('solids', original.id))!.record;
    const copy = (await services.catalog.getImage('solids', copies[0]!.id))!.record;
    expect(copy).toMatchObject({
      format: 'png',
      width: 4000,
      height: 4000,
      dhash: first.dhash,
      reasonCode: 'exact-duplicate',
    });
  });

  itWithShared('accepts a photo, records it with hashes and provenance, and assigns a split', async () => {
    const blob = await put('animals/dog/dog.jpg', fixture('dog.jpg'), { source: 'search', query: 'dog photo' });
    const outcome = await services.ingestor.ingest(blob);
    expect(outcome).toMatchObject({ status: 'accepted', alreadyIngested: false });
    const record = (await services.catalog.getImage('animals', outcome.id))!.record;
    const golden = JSON.parse(readFileSync(sharedPath('fixtures', 'dhash', 'golden.json'), 'utf8')) as {
      files: Record<string, { dhash16: string }>;
    };
    expect(record).toMatchObject({
      label: 'dog',
      name: 'dog.jpg',
      status: 'accepted',
      format: 'jpeg',
      width: 768,
      height: 576,
      dhash: golden.files['dog.jpg']!.dhash16,
      source: 'search',
      provenance: { source: 'search', query: 'dog photo' },
    });
    expect(record.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(['train', 'test']).toContain(record.split);
  });

  itWithShared('judges files by content, not by extension (upper-case, missing or wrong)', async () => {
    for (const [name, content] of [
      ['animals/bird/EAGLE.JPG', fixture('eagle_q30.jpg')],
      ['animals/bird/no-extension', fixture('flower.jpg')],
      ['animals/bird/really-a-png.jpg', fixture('eagle_lossless.png')],
    ] as const) {
      const outcome = await services.ingestor.ingest(await put(name, content));
      expect(outcome.status, name).not.toBe('rejected');
    }
  });

  itWithShared('is idempotent: the same blob again changes nothing', async () => {
    const blob = await put('animals/dog/dog-again.jpg', fixture('eagle.jpg'));
    const first = await services.ingestor.ingest(blob);
    const statsBefore = await services.catalog.getStats('animals');
    const second = await services.ingestor.ingest(blob);
    expect(second).toEqual({ ...first, alreadyIngested: true });
    expect(await services.catalog.getStats('animals')).toEqual(statsBefore);
  });

  itWithShared('marks exact duplicates (same bytes under another name or label) with what they duplicate', async () => {
    const outcome = await services.ingestor.ingest(await put('animals/cat/giraffe-copy.jpg', fixture('dog.jpg')));
    expect(outcome.status).toBe('duplicate');
    const record = (await services.catalog.getImage('animals', outcome.id))!.record;
    expect(record).toMatchObject({ reasonCode: 'exact-duplicate', relatedTo: 'img:dog%2Fdog.jpg', distanceBits: 0 });
  });

  itWithShared('marks near duplicates (recompressed, resized copies) with their distance', async () => {
    for (const name of ['dog_q30.jpg', 'dog_half.jpg', 'dog_webp.webp']) {
      const outcome = await services.ingestor.ingest(await put(`animals/dog/${name}`, fixture(name)));
      expect(outcome.status, name).toBe('nearDuplicate');
      const record = (await services.catalog.getImage('animals', outcome.id))!.record;
      expect(record.relatedTo).toBe('img:dog%2Fdog.jpg');
      expect(record.distanceBits).toBeLessThanOrEqual(24);
    }
  });

  it('quarantines a bad file with its reason and records it, leaving nothing in incoming', async () => {
    const blob = await put(
      'animals/dog/error-page.jpg',
      Buffer.from('<!DOCTYPE html><html><head><title>404</title></head></html>'),
    );
    const outcome = await services.ingestor.ingest(blob);
    expect(outcome.status).toBe('rejected');
    expect(outcome.reason).toMatch(/HTML page/);
    const quarantined = services.storage.blobs
      .getContainerClient(QUARANTINE_CONTAINER)
      .getBlockBlobClient('animals/dog/error-page.jpg');
    const properties = await quarantined.getProperties();
    expect(properties.metadata).toMatchObject({ rejection_code: 'not-an-image' });
    expect((await quarantined.downloadToBuffer()).equals(blob.content)).toBe(true);
    expect(
      await services.storage.blobs.getContainerClient(INCOMING_CONTAINER).getBlockBlobClient(blob.blobName).exists(),
    ).toBe(false);
    const record = (await services.catalog.getImage('animals', outcome.id))!.record;
    expect(record).toMatchObject({ status: 'rejected', reasonCode: 'not-an-image', container: QUARANTINE_CONTAINER });
    // Replaying the trigger (a retry after a crash) finds the record and changes nothing.
    expect((await services.ingestor.ingest(blob)).alreadyIngested).toBe(true);
  });

  it('rejects path tricks and bad names with a clear reason instead of crashing', async () => {
    for (const [name, pattern] of [
      ['Bad_Dataset/dog/a.jpg', /dataset name/],
      ['animals/../a.jpg', /label/],
      ['animals/dog/sub/a.jpg', /not of the form/],
      ['animals/dog+dog/a.jpg', /names a label twice/],
    ] as const) {
      const outcome = await services.ingestor.ingest(await put(name, await noiseImage(1)));
      expect(outcome.status, name).toBe('rejected');
      expect(outcome.reason, name).toMatch(pattern);
    }
  });

  it('re-ingests a blob overwritten with new content, replacing its record and counts', async () => {
    const first = await services.ingestor.ingest(await put('replace/cat/a.jpg', await noiseImage(101)));
    expect(first.status).toBe('accepted');
    const second = await services.ingestor.ingest(await put('replace/cat/a.jpg', Buffer.from('not an image')));
    expect(second.status).toBe('rejected');
    const stats = (await services.catalog.getStats('replace'))!;
    expect(stats.images).toEqual({ accepted: 0, duplicate: 0, nearDuplicate: 0, rejected: 1 });
    expect(stats.labels['cat']).toEqual({ train: 0, test: 0 });
  });
});

describe('ingest under concurrency', () => {
  it('accepts exactly one of many concurrent uploads of the same bytes', async () => {
    const content = await noiseImage(7);
    const blobs = await Promise.all(Array.from({ length: 12 }, (_, i) => put(`same/bytes/copy-${i}.jpg`, content)));
    const outcomes = await Promise.all(blobs.map((blob) => services.ingestor.ingest(blob)));
    expect(outcomes.filter((o) => o.status === 'accepted')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'duplicate')).toHaveLength(11);
    expect((await services.catalog.getStats('same'))!.images).toMatchObject({ accepted: 1, duplicate: 11 });
  });

  it('keeps per-label counts exact and the test share exact with two hosts ingesting at once', async () => {
    // A second, independent set of services stands for a second host instance with its own index cache.
    const other = await createServices({ AzureWebJobsStorage: storage.azurite.connectionString });
    const labels = ['striped', 'dotted', 'leopard'];
    const blobs = [];
    for (let i = 0; i < 45; i++)
      blobs.push(await put(`concurrent/${labels[i % 3]}/img-${i}.png`, await noiseImage(1000 + i, { format: 'png' })));
    const outcomes = await Promise.all(blobs.map((blob, i) => (i % 2 ? other : services).ingestor.ingest(blob)));
    expect(outcomes.every((o) => o.status === 'accepted')).toBe(true);

    const stats = (await services.catalog.getStats('concurrent'))!;
    const listed = await services.catalog.listImages('concurrent', { pageSize: 1000 });
    expect(listed.images).toHaveLength(45);
    for (const label of labels) {
      const mine = listed.images.filter((image) => image.label === label);
      const test = mine.filter((image) => image.split === 'test').length;
      expect(stats.labels[label]).toEqual({ train: mine.length - test, test });
      expect(test).toBe(desiredTestCount(15, 0.2));
    }
    expect(stats.images.accepted).toBe(45);
  });
});

describe('real photos on plain backgrounds (../shared/datasets/trashnet-subset)', () => {
  itWithShared(
    'keeps different objects apart though their hashes are nearly empty, and still finds the true near duplicate',
    async () => {
      const root = sharedPath('datasets', 'trashnet-subset');
      const blobs = [];
      for (const label of readdirSync(root).sort()) {
        for (const name of readdirSync(path.join(root, label)).sort()) {
          blobs.push(await put(`trash/${label}/${name}`, readFileSync(path.join(root, label, name))));
        }
      }
      const outcomes = await Promise.all(blobs.map((blob) => services.ingestor.ingest(blob)));
      const near = outcomes.filter((o) => o.status === 'nearDuplicate');
      // paper40.jpg is the same flyer photographed again as paper2.jpg; glass3 and glass5 are different
      // glasses on a white table, 17 bits apart only because both hashes hold ~16 set bits.
      expect(near.map((o) => o.id)).toEqual(['img:paper%2Fpaper40.jpg']);
      const stats = (await services.catalog.getStats('trash'))!;
      for (const [label, counts] of Object.entries(stats.labels)) {
        const total = counts.train + counts.test;
        expect(Math.abs(counts.test - desiredTestCount(total, 0.2)), label).toBeLessThanOrEqual(1);
      }
    },
    120_000,
  );
});

describe('split', () => {
  itWithShared(
    "puts images close to an existing one (beyond the duplicate threshold) on that image's side",
    async () => {
      // Crops sit 43-68 bits from their originals: not duplicates at 24 bits, but within the 48-bit group threshold.
      const golden = JSON.parse(readFileSync(sharedPath('fixtures', 'dhash', 'golden.json'), 'utf8')) as {
        files: Record<string, { of: string; edit: string; distance_to_original: number }>;
      };
      const crops = Object.entries(golden.files).filter(([, f]) => f.edit === 'crop4' && f.distance_to_original <= 48);
      expect(crops.length).toBeGreaterThan(0);
      for (const [cropName, info] of crops) {
        const original = await services.ingestor.ingest(await put(`groups/photos/${info.of}`, fixture(info.of)));
        const crop = await services.ingestor.ingest(await put(`groups/photos/${cropName}`, fixture(cropName)));
        expect(crop.status, cropName).toBe('accepted');
        expect(crop.split, cropName).toBe(original.split);
        const record = (await services.catalog.getImage('groups', crop.id))!.record;
        expect(record).toMatchObject({ splitRule: 'group', relatedTo: original.id });
      }
    },
  );

  it('gives every label with two or more images a test image, at the exact configured share', async () => {
    for (let i = 0; i < 10; i++)
      await services.ingestor.ingest(await put(`shares/many/img-${i}.jpg`, await noiseImage(5000 + i)));
    for (let i = 0; i < 2; i++)
      await services.ingestor.ingest(await put(`shares/pair/img-${i}.jpg`, await noiseImage(6000 + i)));
    await services.ingestor.ingest(await put('shares/single/img-0.jpg', await noiseImage(7000)));
    const stats = (await services.catalog.getStats('shares'))!;
    expect(stats.labels).toEqual({
      many: { train: 8, test: 2 },
      pair: { train: 1, test: 1 },
      single: { train: 1, test: 0 },
    });
  });
});

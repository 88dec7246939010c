// Catalog keys against a real Azurite: a blob with an invalid two-segment name and a valid one that once shared a
// row key (D/x.png and D/D/x.png) keep a row each, in either order, with exact counts; a row written under the old
// key of an invalid name is read and moved when its blob comes again; image-id routes answer 400 or 404 for ids
// that are not image ids (checked before any storage call), never 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { imageIdForBlob, legacyImageIdForBlob } from '../../src/dataset/catalog';
import { catalogKeyOfBlob } from '../../src/dataset/ingest';
import type { Services } from '../../src/services';
import { CATALOG_TABLE, INCOMING_CONTAINER } from '../../src/storage/names';
import { type AppStack, callApi, startAppStack } from '../support/appHost';
import { noiseImage } from '../support/images';

let stack: AppStack;
let services: Services;

beforeAll(async () => {
  stack = await startAppStack({ hostId: 'catalog-keys' });
  ({ services } = stack);
});
afterAll(async () => {
  await stack?.close();
});

async function ingest(blobName: string, content: Buffer) {
  const blob = services.storage.blobs.getContainerClient(INCOMING_CONTAINER).getBlockBlobClient(blobName);
  const { etag } = await blob.uploadData(content);
  return services.ingestor.ingest({ blobName, content, etag: etag! });
}

describe('row keys', () => {
  it.each([
    ['the valid name first', ['col4/col4/x.png', 'col4/x.png']],
    ['the invalid name first', ['col5/x.png', 'col5/col5/x.png']],
  ])('a valid and an invalid name that once shared a key each keep their row: %s', async (_order, names) => {
    const dataset = names[0]!.split('/')[0]!;
    for (const [index, name] of names.entries()) await ingest(name, await noiseImage(300 + index));
    const stats = (await services.catalog.getStats(dataset))!;
    expect(stats.images).toEqual({ accepted: 1, duplicate: 0, nearDuplicate: 0, rejected: 1 });
    for (const name of names) {
      const { id } = catalogKeyOfBlob(name);
      expect((await services.catalog.getImage(dataset, id))?.record.blobName).toBe(name);
    }
  });

  it('keeps a name with U+2028, U+2029 and a backslash exactly (Azurite refuses them raw in a transaction)', async () => {
    const name = 'seps/lbl/a\u2028b\u2029c\\u2028d.png';
    await ingest(name, await noiseImage(350));
    const { dataset, id } = catalogKeyOfBlob(name);
    const { record } = (await services.catalog.getImage(dataset, id))!;
    expect(record.blobName).toBe(name);
    expect(record.status).toBe('rejected');
  });

  it('moves the row of an invalid name from its old key when the blob comes again, keeping the counts', async () => {
    const name = 'legacy/x.png';
    await ingest(name, await noiseImage(400));
    // As an older catalog held it: the same row under the old key.
    const table = services.storage.table(CATALOG_TABLE);
    const newId = imageIdForBlob(name);
    const row = await table.getEntity('legacy', newId);
    const { etag: _etag, timestamp: _timestamp, ...fields } = row;
    await table.createEntity({ ...fields, partitionKey: 'legacy', rowKey: legacyImageIdForBlob(name) });
    await table.deleteEntity('legacy', newId);
    expect(await services.catalog.getImage('legacy', newId)).toBeUndefined();

    const again = await ingest(name, await noiseImage(401));
    expect(again).toMatchObject({ status: 'rejected', alreadyIngested: false });
    expect((await services.catalog.getImage('legacy', newId))?.record.blobName).toBe(name);
    expect(await services.catalog.getImage('legacy', legacyImageIdForBlob(name))).toBeUndefined();
    expect((await services.catalog.getStats('legacy'))!.images.rejected).toBe(1);
  });
});

describe('image-id routes', () => {
  it.each([
    ['stats', 404, /is not an image id/],
    ['sha256:00ff', 404, /is not an image id/],
    ['change:000000000001', 404, /is not an image id/],
    ['img:nope', 404, /has no image/],
    [`img:${'x'.repeat(2000)}`, 400, /an image id has 1 to \d+ characters/],
    ['img:a\u0001b', 400, /holds "\\u0001", which no image id has/],
  ])('GET, PATCH and the thumbnail of %j answer %i', async (id, status, message) => {
    await ingest('routes/cat/a.png', await noiseImage(500));
    const route = `datasets/routes/images/${encodeURIComponent(id)}`;
    for (const [method, path, body] of [
      ['GET', route, undefined],
      ['PATCH', route, { excluded: true }],
      ['GET', `${route}/thumbnail`, undefined],
    ] as const) {
      const response = await callApi<{ message: string }>(stack.host, method, path, body);
      expect({ method, path, status: response.status }).toEqual({ method, path, status });
      expect(response.body.message).toMatch(message);
    }
  });
});

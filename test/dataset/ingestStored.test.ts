// Ingest from storage, not from bytes a trigger read: the ingest function's blob trigger binds a client of the blob
// (sdkBinding), and a blob over INGEST_MAX_FILE_BYTES is hashed as a stream and rejected, its quarantine copy made
// by the storage service, so no process holds its bytes; a blob within the limit is read with a cap. Through the
// strict local host, which hands the worker the blob's model binding data as the Functions host does (that the
// trigger asks for it: test/infra/crossCheck.test.ts).
import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Services } from '../../src/services';
import { INCOMING_CONTAINER, QUARANTINE_CONTAINER } from '../../src/storage/names';
import { type AppStack, callApi, startAppStack } from '../support/appHost';
import { noiseImage } from '../support/images';
import { waitFor } from '../support/waitFor';

const LIMIT_BYTES = 1024 * 1024;
let stack: AppStack;
let services: Services;

beforeAll(async () => {
  stack = await startAppStack({
    hostId: 'ingest-stored',
    strict: true,
    blobScanIntervalInMs: 200,
    env: { INGEST_MAX_FILE_BYTES: String(LIMIT_BYTES) },
  });
  ({ services } = stack);
});
afterAll(async () => {
  await stack?.close();
});

interface Summary {
  images: { accepted: number; rejected: number };
}

describe('ingest from storage', () => {
  it('rejects a blob over the limit from its size, hashing it as a stream and copying it to quarantine', async () => {
    // 24 MiB of varied bytes (not a repeated pattern that the hash would not tell from another).
    const big = Buffer.alloc(24 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const name = 'large/cat/huge.jpg';
    await services.storage.blobs.getContainerClient(INCOMING_CONTAINER).getBlockBlobClient(name).uploadData(big);
    await stack.host.scanBlobsNow();
    await waitFor('the large blob to be catalogued', async () => {
      const { body } = await callApi<Summary>(stack.host, 'GET', 'datasets/large');
      return body.images?.rejected === 1 ? true : undefined;
    });
    const record = (await services.catalog.listImages('large', { status: 'rejected' })).images[0]!;
    expect(record).toMatchObject({
      reasonCode: 'file-too-large',
      sizeBytes: big.length,
      contentSha256: createHash('sha256').update(big).digest('hex'),
    });
    expect(record.reason).toBe(
      `the file has ${big.length} bytes, more than the limit of ${LIMIT_BYTES} (INGEST_MAX_FILE_BYTES)`,
    );
    const quarantined = services.storage.blobs.getContainerClient(QUARANTINE_CONTAINER).getBlobClient(name);
    const properties = await quarantined.getProperties();
    expect(properties.contentLength).toBe(big.length);
    expect(properties.metadata).toMatchObject({ rejection_code: 'file-too-large', original_container: 'incoming' });
    await waitFor('the incoming blob to be gone', async () =>
      (await services.storage.blobs.getContainerClient(INCOMING_CONTAINER).getBlobClient(name).exists())
        ? undefined
        : true,
    );
  });

  it('reads a blob within the limit and ingests it', async () => {
    const name = 'small/cat/fine.png';
    await services.storage.blobs
      .getContainerClient(INCOMING_CONTAINER)
      .getBlockBlobClient(name)
      .uploadData(await noiseImage(901));
    await stack.host.scanBlobsNow();
    await waitFor('the small blob to be accepted', async () => {
      const { body } = await callApi<Summary>(stack.host, 'GET', 'datasets/small');
      return body.images?.accepted === 1 ? true : undefined;
    });
  });

  it('leaves a blob deleted before its turn alone, and ingests nothing for it', async () => {
    const gone = await services.ingestor.ingestStored(
      'small/cat/never.png',
      services.storage.blobs.getContainerClient(INCOMING_CONTAINER).getBlobClient('small/cat/never.png'),
    );
    expect(gone).toBeUndefined();
  });
});

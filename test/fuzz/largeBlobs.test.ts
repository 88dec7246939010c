// Fuzzing blob sizes around the ingest limit: a blob read from storage (ingestStored, what the ingest trigger does)
// of any size ends in the catalog, rejected as file-too-large exactly when it is over INGEST_MAX_FILE_BYTES, with its
// size and hash recorded and a quarantine copy as long as it was; nothing throws.
import { createHash } from 'node:crypto';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createServices, type Services } from '../../src/services';
import { INCOMING_CONTAINER, QUARANTINE_CONTAINER } from '../../src/storage/names';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { fuzzRuns, reportFuzz } from './fuzzRuns';

const LIMIT_BYTES = 16 * 1024;
let storage: TestStorage;
let services: Services;

beforeAll(async () => {
  storage = await startTestStorage();
  services = await createServices({
    AzureWebJobsStorage: storage.azurite.connectionString,
    INGEST_MAX_FILE_BYTES: String(LIMIT_BYTES),
  });
  await services.catalog.ensureTable();
  await services.ingestor.ensureStorage();
});
afterAll(async () => {
  await storage?.azurite.close();
});

describe('fuzz: blob sizes around the ingest limit', () => {
  it('a blob over the limit is rejected from its size, one within it is read and judged on its bytes', async () => {
    const runs = fuzzRuns(25);
    let tried = 0;
    const size = fc.oneof(
      fc.constantFrom(0, 1, LIMIT_BYTES - 1, LIMIT_BYTES, LIMIT_BYTES + 1),
      fc.integer({ min: 0, max: LIMIT_BYTES * 8 }),
    );
    await fc.assert(
      fc.asyncProperty(size, fc.integer({ min: 0, max: 255 }), async (bytes, fill) => {
        tried++;
        const content = Buffer.alloc(bytes, fill);
        const name = `sizes/any/blob-${tried}.bin`;
        await services.storage.blobs
          .getContainerClient(INCOMING_CONTAINER)
          .getBlockBlobClient(name)
          .uploadData(content);
        const incoming = services.storage.blobs.getContainerClient(INCOMING_CONTAINER).getBlobClient(name);
        const outcome = (await services.ingestor.ingestStored(name, incoming))!;
        expect(outcome.status).toBe('rejected');
        const { record } = (await services.catalog.getImage('sizes', outcome.id))!;
        expect(record.sizeBytes).toBe(bytes);
        expect(record.contentSha256).toBe(createHash('sha256').update(content).digest('hex'));
        expect(record.reasonCode === 'file-too-large').toBe(bytes > LIMIT_BYTES);
        const quarantined = services.storage.blobs.getContainerClient(QUARANTINE_CONTAINER).getBlobClient(name);
        expect((await quarantined.getProperties()).contentLength).toBe(bytes);
      }),
      { numRuns: runs, seed: 5 },
    );
    reportFuzz('blob sizes around the ingest limit', tried, 0);
  }, 1_200_000);
});

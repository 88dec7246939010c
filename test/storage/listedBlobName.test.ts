import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { decodeNumericReferences, resolveListedBlobName } from '../../src/storage/listedBlobName';
import { startTestStorage, type TestStorage } from '../support/azurite';

describe('decodeNumericReferences', () => {
  it('decodes hexadecimal and decimal references and leaves everything else', () => {
    expect(decodeNumericReferences('a&#xD;b&#13;c&#x1F600;')).toBe('a\rb\rc\u{1F600}');
    expect(decodeNumericReferences('plain &amp; name&#;&#x;&#xZZ;')).toBe('plain &amp; name&#;&#x;&#xZZ;');
    expect(decodeNumericReferences('beyond&#x110000;')).toBe('beyond&#x110000;');
  });
});

describe('resolveListedBlobName against Azurite', () => {
  let storage: TestStorage;
  beforeAll(async () => {
    storage = await startTestStorage();
  });
  afterAll(async () => {
    await storage.azurite.close();
  });

  it('tells a blob named with \\r from one named with a literal "&#xD;", both listed alike', async () => {
    const container = storage.clients.blobs.getContainerClient('listed-names');
    await container.create();
    await container.getBlockBlobClient('a\rb.jpg').uploadData(Buffer.from('carriage return'));
    await container.getBlockBlobClient('a&#xD;b.jpg').uploadData(Buffer.from('literal reference'));
    await container.getBlockBlobClient('plain.jpg').uploadData(Buffer.from('plain'));
    const resolved: string[] = [];
    for await (const blob of container.listBlobsFlat()) {
      const name = await resolveListedBlobName(container, blob.name, blob.properties.etag);
      resolved.push(name);
      // Each resolved name holds the very blob the listing described.
      expect((await container.getBlobClient(name).getProperties()).etag?.replace(/"/g, '')).toBe(
        blob.properties.etag?.replace(/"/g, ''),
      );
    }
    // The SDK lists both as "a&#xD;b.jpg"; if that is ever fixed, the names still resolve.
    expect(resolved.sort()).toEqual(['a&#xD;b.jpg', 'a\rb.jpg', 'plain.jpg'].sort());
  });

  it('gives the listed name back when the blob is gone', async () => {
    const container = storage.clients.blobs.getContainerClient('listed-names');
    expect(await resolveListedBlobName(container, 'gone&#xD;.jpg', '"0x1"')).toBe('gone&#xD;.jpg');
  });
});

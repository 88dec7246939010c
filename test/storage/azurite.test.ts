import { describe, expect, it } from 'vitest';

import { startAzurite, startAzuriteProcess } from '../../src/storage/azurite';
import { createStorageClients } from '../../src/storage/clients';

describe('startAzurite (in memory, free ports)', () => {
  it('serves blobs, queues and table transactions through the real SDKs', async () => {
    const azurite = await startAzurite({ blobPort: 0, queuePort: 0, tablePort: 0 });
    try {
      expect(azurite.blobEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
      const clients = createStorageClients(azurite.connectionString);
      const container = clients.blobs.getContainerClient('probe');
      await container.createIfNotExists();
      await container.getBlockBlobClient('a/b.txt').upload('hi', 2);
      expect((await container.getBlockBlobClient('a/b.txt').downloadToBuffer()).toString()).toBe('hi');

      const queue = clients.queues.getQueueClient('probe');
      await queue.createIfNotExists();
      await queue.sendMessage('m');
      const received = await queue.receiveMessages();
      expect(received.receivedMessageItems[0]?.messageText).toBe('m');

      await clients.tables.createTable('probe');
      const table = clients.table('probe');
      await table.createEntity({ partitionKey: 'p', rowKey: 'r', v: 1 });
      const transaction = await table.submitTransaction([
        ['create', { partitionKey: 'p', rowKey: 'r2' }],
        ['update', { partitionKey: 'p', rowKey: 'r', v: 2 }, 'Merge', { etag: '*' }],
      ]);
      expect(transaction.status).toBe(202);
      expect((await table.getEntity<{ v: number }>('p', 'r')).v).toBe(2);
    } finally {
      await azurite.close();
    }
  });
});

describe('startAzuriteProcess (a child process, as npm start runs it)', () => {
  it('starts on free ports, serves the SDKs, and stops', async () => {
    const azurite = await startAzuriteProcess({ inMemory: true, blobPort: 0, queuePort: 0, tablePort: 0 });
    try {
      expect(azurite.tableEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
      const clients = createStorageClients(azurite.connectionString);
      await clients.tables.createTable('probe');
      await clients.table('probe').createEntity({ partitionKey: 'p', rowKey: 'r' });
      expect((await clients.table('probe').getEntity('p', 'r')).rowKey).toBe('r');
    } finally {
      await azurite.close();
    }
    await expect(fetch(azurite.blobEndpoint)).rejects.toThrow();
  });

  it('says so when its ports are taken', async () => {
    const first = await startAzuriteProcess({ inMemory: true, blobPort: 0, queuePort: 0, tablePort: 0 });
    try {
      const port = Number(new URL(first.blobEndpoint).port);
      await expect(startAzuriteProcess({ inMemory: true, blobPort: port, queuePort: 0, tablePort: 0 })).rejects.toThrow(
        /ports are in use/,
      );
    } finally {
      await first.close();
    }
  });
});

// The ingest trigger with the Event Grid source, as Flex Consumption runs it: the app's real function files on the
// local host with INGEST_BLOB_SOURCE=EventGrid, and Event Grid's deliveries (the validation handshakes, BlobCreated
// notifications in the Event Grid and CloudEvents schemas) posted to /runtime/webhooks/blobs. Delivery is at least
// once and unordered, so the tests send duplicates, concurrent retries and events out of order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningHost } from '../../src/host/localHost';
import { startAppHost, testSettings } from '../support/appHost';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { noiseImage } from '../support/images';
import { waitFor } from '../support/waitFor';

let storage: TestStorage;
let host: RunningHost;
let webhook: string;
/** What the host logged: each ingest invocation logs one line, `incoming/<name>: <status>`. */
const logLines: string[] = [];

interface Uploaded {
  name: string;
  etag: string;
  url: string;
}

async function upload(name: string, seed: number): Promise<Uploaded> {
  const blob = storage.clients.blobs.getContainerClient('incoming').getBlockBlobClient(name);
  const response = await blob.uploadData(await noiseImage(seed));
  return { name, etag: response.etag!.replace(/"/g, ''), url: blob.url };
}

/** A BlobCreated event in the Event Grid schema, as a storage account's system topic sends it. */
function eventGridEvent(blob: Uploaded, id: string) {
  return {
    id,
    topic: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/icfdata',
    subject: `/blobServices/default/containers/incoming/blobs/${blob.name}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: new Date().toISOString(),
    data: {
      api: 'PutBlob',
      eTag: blob.etag,
      contentType: 'image/png',
      blobType: 'BlockBlob',
      url: blob.url,
      sequencer: id.padStart(32, '0'),
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

/** The same event in the CloudEvents 1.0 schema. */
function cloudEvent(blob: Uploaded, id: string) {
  const { eventType, eventTime, topic, dataVersion: _d, metadataVersion: _m, ...rest } = eventGridEvent(blob, id);
  return { ...rest, specversion: '1.0', type: eventType, time: eventTime, source: topic };
}

async function deliver(body: unknown, headers: Record<string, string> = {}, functionName = 'Host.Functions.ingest') {
  const response = await fetch(`${webhook}?functionName=${encodeURIComponent(functionName)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function catalogued(dataset: string): Promise<{ accepted: number; names: string[] }> {
  const response = await fetch(`${host.url}/api/datasets/${dataset}/images?pageSize=1000`);
  if (response.status !== 200) return { accepted: 0, names: [] };
  const images = ((await response.json()) as { images: { name: string; status: string }[] }).images;
  return { accepted: images.filter((i) => i.status === 'accepted').length, names: images.map((i) => i.name).sort() };
}

beforeAll(async () => {
  storage = await startTestStorage();
  await storage.clients.blobs.getContainerClient('incoming').createIfNotExists();
  host = await startAppHost({
    hostId: 'eventgrid-host',
    settings: testSettings(storage.azurite.connectionString, { INGEST_BLOB_SOURCE: 'EventGrid' }),
    // Scans every 100 ms: were the Event Grid trigger scanned, the unannounced blob below would be ingested.
    blobScanIntervalInMs: 100,
    log: (_level, message) => logLines.push(message),
  });
  webhook = `${host.url.replace(/\/$/, '')}/runtime/webhooks/blobs`;
});

afterAll(async () => {
  await host?.stop();
  await storage?.azurite.close();
});

describe('the blob extension webhook (Event Grid source)', () => {
  it('registers ingest with the Event Grid source', () => {
    expect(host.functions.find((f) => f.name === 'ingest')?.trigger).toBe(
      'blob incoming/{blobPath} (Event Grid: POST /runtime/webhooks/blobs?functionName=Host.Functions.ingest)',
    );
  });

  it('answers both validation handshakes', async () => {
    const validation = await deliver(
      [
        {
          id: 'v1',
          topic: '/subscriptions/0000',
          subject: '',
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          eventTime: new Date().toISOString(),
          data: { validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6', validationUrl: 'https://example.invalid' },
          dataVersion: '2',
          metadataVersion: '1',
        },
      ],
      { 'aeg-event-type': 'SubscriptionValidation' },
    );
    expect(validation).toEqual({ status: 200, body: { validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' } });
    const options = await fetch(`${webhook}?functionName=Host.Functions.ingest`, {
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': 'eventgrid.azure.net' },
    });
    expect(options.status).toBe(200);
    expect(options.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  it('ingests each created blob once, whatever the order, duplicates and concurrent retries', async () => {
    const [a, b, c] = await Promise.all([
      upload('gridded/dots/a.png', 7001),
      upload('gridded/dots/b.png', 7002),
      upload('gridded/stripes/c.png', 7003),
    ]);
    const unannounced = await upload('gridded/dots/never-announced.png', 7004);
    // Out of order, then the same events again, twice at once (a retry while the first is being answered).
    expect(await deliver([eventGridEvent(c, '3'), eventGridEvent(a, '1')])).toEqual({
      status: 202,
      body: { accepted: 2, skipped: 0, ignoredEvents: 0 },
    });
    const retries = await Promise.all([
      deliver([eventGridEvent(a, '1'), eventGridEvent(c, '3')]),
      deliver([eventGridEvent(a, '1')]),
    ]);
    expect(retries.map((r) => r.status)).toEqual([202, 202]);
    // The CloudEvents schema, one event and a batch, with an event of another type that is ignored.
    const single = await deliver(cloudEvent(b, '2'), {
      'content-type': 'application/cloudevents+json; charset=utf-8',
    });
    expect(single).toEqual({ status: 202, body: { accepted: 1, skipped: 0, ignoredEvents: 0 } });
    const deleted = { ...cloudEvent(b, '9'), type: 'Microsoft.Storage.BlobDeleted' };
    const batch = await deliver([cloudEvent(b, '2'), deleted], {
      'content-type': 'application/cloudevents-batch+json',
    });
    expect(batch).toEqual({ status: 202, body: { accepted: 1, skipped: 0, ignoredEvents: 1 } });

    const done = await waitFor('the three announced blobs in the catalog', async () => {
      const seen = await catalogued('gridded');
      return seen.accepted === 3 ? seen : undefined;
    });
    expect(done.names).toEqual(['a.png', 'b.png', 'c.png']);
    // Once each: the retries and duplicates made no second invocation.
    for (const blob of [a, b, c]) {
      expect(
        logLines.filter((line) => line.includes(`incoming/${blob.name}: `)),
        blob.name,
      ).toHaveLength(1);
    }
    // Scans ran meanwhile: a blob nobody announced is not the Event Grid trigger's business.
    await host.scanBlobsNow();
    expect((await catalogued('gridded')).names).not.toContain('never-announced.png');
    expect(unannounced.name).toBe('gridded/dots/never-announced.png');
    const summary = (await (await fetch(`${host.url}/api/datasets/gridded`)).json()) as {
      images: Record<string, number>;
    };
    expect(summary.images).toEqual({ accepted: 3, duplicate: 0, nearDuplicate: 0, rejected: 0 });
  });

  it('skips blobs outside the trigger path and refuses what Event Grid would not send, in JSON', async () => {
    const elsewhere = { ...eventGridEvent({ name: 'x.png', etag: '0x1', url: 'https://a/other/x.png' }, '5') };
    elsewhere.subject = '/blobServices/default/containers/other/blobs/x.png';
    expect(await deliver([elsewhere])).toEqual({ status: 202, body: { accepted: 0, skipped: 1, ignoredEvents: 0 } });
    const unknown = await deliver([], {}, 'Host.Functions.nothing');
    expect(unknown.status).toBe(404);
    expect(unknown.body['message']).toMatch(/no blob trigger "nothing" with source EventGrid here \(there is ingest\)/);
    expect((await deliver([], {}, 'ingest')).body).toEqual({
      error: 'BadRequest',
      message: 'functionName must be Host.Functions.<function name>, not "ingest"',
    });
    expect((await deliver('{not json')).body['message']).toBe('the body is not JSON');
    expect((await deliver({ just: 'an object' })).status).toBe(400);
    const badSubject = await deliver([{ ...eventGridEvent({ name: 'y', etag: '', url: '' }, '6'), subject: '/nope' }]);
    expect(badSubject.status).toBe(400);
    expect(badSubject.body['message']).toMatch(/subject must be \/blobServices\/default\/containers/);
    expect((await deliver([{}], { 'aeg-event-type': 'SubscriptionValidation' })).status).toBe(400);
  });
});

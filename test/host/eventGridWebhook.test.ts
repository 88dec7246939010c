// The ingest trigger with the Event Grid source, as Flex Consumption runs it: the app's real function files on the
// local host with INGEST_BLOB_SOURCE=EventGrid, and Event Grid's deliveries (the validation handshakes, BlobCreated
// notifications in the Event Grid and CloudEvents schemas) posted to /runtime/webhooks/blobs. Delivery is at least
// once and unordered, so the tests send duplicates, concurrent retries and events out of order. Hostile and malformed
// deliveries (dot segments, other accounts and containers, blobs that are gone, huge names and batches) never write
// outside the trigger's container, never fail the batch's good events, and are answered well within Event Grid's 30 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AZURITE_ACCOUNT_NAME } from '../../src/config';
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
    topic: `/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${AZURITE_ACCOUNT_NAME}`,
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

/** A blob's URL on the test account, as data.url carries it. */
function blobUrl(container: string, name: string): string {
  return storage.clients.blobs.getContainerClient(container).getBlobClient(name).url;
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
      body: { accepted: 2, skipped: 0, ignoredEvents: 0, rejectedEvents: 0 },
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
    expect(single).toEqual({ status: 202, body: { accepted: 1, skipped: 0, ignoredEvents: 0, rejectedEvents: 0 } });
    const deleted = { ...cloudEvent(b, '9'), type: 'Microsoft.Storage.BlobDeleted' };
    const batch = await deliver([cloudEvent(b, '2'), deleted], {
      'content-type': 'application/cloudevents-batch+json',
    });
    expect(batch).toEqual({ status: 202, body: { accepted: 1, skipped: 0, ignoredEvents: 1, rejectedEvents: 0 } });

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
    const elsewhere = { ...eventGridEvent({ name: 'x.png', etag: '0x1', url: blobUrl('other', 'x.png') }, '5') };
    elsewhere.subject = '/blobServices/default/containers/other/blobs/x.png';
    expect(await deliver([elsewhere])).toEqual({
      status: 202,
      body: { accepted: 0, skipped: 1, ignoredEvents: 0, rejectedEvents: 0 },
    });
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

describe('hostile and malformed deliveries (issue 18)', () => {
  /** Blobs of other containers that an event must never reach, with what they hold now. */
  const victims = [
    { container: 'victim7', name: 'secret.txt' },
    { container: 'models', name: 'base/current.json' },
  ];

  async function victimState() {
    return Promise.all(
      victims.map(async ({ container, name }) => {
        const properties = await storage.clients.blobs
          .getContainerClient(container)
          .getBlobClient(name)
          .getProperties();
        return { etag: properties.etag, metadata: properties.metadata };
      }),
    );
  }

  async function receiptCount(): Promise<number> {
    let count = 0;
    const hosts = storage.clients.blobs.getContainerClient('azure-webjobs-hosts');
    for await (const _ of hosts.listBlobsFlat({ prefix: 'blobreceipts/eventgrid-host/ingest/' })) count++;
    return count;
  }

  /** A BlobCreated event for `subject` whose topic and data.url agree with it (as an attacker would make them). */
  function eventFor(subject: string, id: string, etag = '0x8DEADBEEF') {
    const name = subject.replace(/^\/blobServices\/default\/containers\/incoming\/blobs\//, '');
    return { ...eventGridEvent({ name, etag, url: blobUrl('incoming', name) }, id), subject };
  }

  beforeAll(async () => {
    for (const { container, name } of victims) {
      const client = storage.clients.blobs.getContainerClient(container);
      await client.createIfNotExists();
      await client.getBlockBlobClient(name).upload('keep me', 7, { metadata: { owner: 'someone-else' } });
    }
  });

  it('refuses "." and ".." segments, and the blob they would reach is untouched', async () => {
    const before = await victimState();
    const hostile = [
      '/blobServices/default/containers/incoming/blobs/../victim7/secret.txt',
      '/blobServices/default/containers/incoming/blobs/../models/base/current.json',
      '/blobServices/default/containers/incoming/blobs/a/../../victim7/secret.txt',
      '/blobServices/default/containers/incoming/blobs/./x.png',
      '/blobServices/default/containers/incoming/blobs/a/..',
      '/blobServices/default/containers/incoming/blobs//x.png',
      '/blobServices/default/containers/incoming/blobs/x/',
      '/blobServices/default/containers/../victim7/blobs/secret.txt',
      '/blobServices/default/containers/incoming/../victim7/blobs/secret.txt',
      '/blobServices/default/containers/Victim7/blobs/secret.txt',
    ];
    for (const [i, subject] of hostile.entries()) {
      const answer = await deliver([eventFor(subject, `dot${i}`)]);
      expect(answer.status, subject).toBe(400);
      expect(answer.body['message'], subject).toMatch(/every event of the delivery is malformed: event 0: /);
    }
    // The same through data.url: the SDK's reading of it resolves the dots, and it then disagrees with the subject.
    const viaUrl = eventFor('/blobServices/default/containers/incoming/blobs/x.png', 'dotu');
    viaUrl.data.url = `${blobUrl('incoming', '')}../victim7/secret.txt`;
    expect((await deliver([viaUrl])).body['message']).toMatch(/data\.url must be the URL of the blob/);
    // Percent-encoded dots are a name like any other in incoming (the SDK encodes "%"): nothing there, nothing done.
    const encoded = await deliver([
      eventFor('/blobServices/default/containers/incoming/blobs/%2e%2e/victim7/secret.txt', 'enc'),
    ]);
    expect(encoded).toEqual({ status: 202, body: { accepted: 1, skipped: 0, ignoredEvents: 0, rejectedEvents: 0 } });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await victimState()).toEqual(before);
    // No ingest ran on them (it logs `incoming/<name>: <status>`).
    expect(logLines.filter((line) => /(secret\.txt|current\.json): /.test(line))).toEqual([]);
  });

  it('takes the good events of a batch and drops the malformed ones, each named', async () => {
    const good = await upload('mixed/dots/good.png', 7101);
    const otherAccount = eventGridEvent(good, 'm2');
    // Topic and URL agree with each other, on another account (path-style, as Azurite's URLs are).
    otherAccount.topic = otherAccount.topic.replace(AZURITE_ACCOUNT_NAME, 'someoneelse');
    otherAccount.data.url = good.url.replace(`/${AZURITE_ACCOUNT_NAME}/`, '/someoneelse/');
    const urlElsewhere = eventGridEvent(good, 'm3');
    urlElsewhere.data.url = blobUrl('victim7', 'secret.txt');
    const answer = await deliver([
      eventGridEvent(good, 'm1'),
      otherAccount,
      urlElsewhere,
      eventFor('/blobServices/default/containers/incoming/blobs/../victim7/secret.txt', 'm4'),
      { eventType: 'Microsoft.Storage.BlobCreated', subject: 42 },
      'not an event',
    ]);
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ accepted: 1, skipped: 0, ignoredEvents: 0, rejectedEvents: 5 });
    const problems = answer.body['problems'] as string[];
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(
      /^event 1: it is about storage account someoneelse, and ingest watches account devstoreaccount1/,
    );
    expect(problems[1]).toMatch(/^event 2: data\.url must be the URL of the blob/);
    expect(problems[2]).toMatch(/^event 3: a BlobCreated subject .* with no "\." or "\.\." segment/);
    expect(problems[3]).toMatch(/^event 4: a BlobCreated subject must be/);
    expect(problems[4]).toBe('event 5 is not an object');
    await waitFor('the good blob in the catalog', async () =>
      (await catalogued('mixed')).accepted === 1 ? true : undefined,
    );
  });

  it('answers 2xx for blobs that are gone (with or without an eTag), and writes no receipt for them', async () => {
    const receipts = await receiptCount();
    const gone = eventFor('/blobServices/default/containers/incoming/blobs/gone/dots/never.png', 'g1');
    const noEtag = eventFor('/blobServices/default/containers/incoming/blobs/gone/dots/never2.png', 'g2', '');
    delete (noEtag.data as Partial<typeof noEtag.data>).eTag;
    const answer = await deliver([gone, noEtag]);
    expect(answer).toEqual({ status: 202, body: { accepted: 2, skipped: 0, ignoredEvents: 0, rejectedEvents: 0 } });
    await waitFor('both logged as gone', async () =>
      logLines.filter((line) => /incoming\/gone\/dots\/never2?\.png no longer exists/.test(line)).length === 2
        ? true
        : undefined,
    );
    // A version replaced since its event: that event is left to the newer one's.
    const replaced = await upload('gone/dots/replaced.png', 7102);
    await upload('gone/dots/replaced.png', 7103);
    expect((await deliver([eventGridEvent(replaced, 'g3')])).status).toBe(202);
    await waitFor('logged as replaced', async () =>
      logLines.some((line) => line.includes('incoming/gone/dots/replaced.png has been replaced since'))
        ? true
        : undefined,
    );
    expect(await receiptCount()).toBe(receipts);
  });

  it("refuses a 100 KB name, and batches past Event Grid's limits, without a 5xx", async () => {
    const huge = await deliver([
      eventFor(`/blobServices/default/containers/incoming/blobs/${'a'.repeat(100_000)}`, 'h1'),
    ]);
    expect(huge.status).toBe(400);
    expect(huge.body['message']).toMatch(
      /with a name of 1-1024 characters, not "\/blobServices.*\(100050 characters\)/,
    );
    const tooMany = await deliver(Array.from({ length: 5001 }, () => ({ eventType: 'Other' })));
    expect(tooMany).toEqual({
      status: 413,
      body: {
        error: 'PayloadTooLarge',
        message: "the delivery holds 5001 events, over Event Grid's batch limit of 5000",
      },
    });
    const tooBig = await deliver([{ eventType: 'Other', data: 'x'.repeat(1024 * 1024) }]);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body['message']).toMatch(/over Event Grid's batch limit of 1048576 bytes/);
  });

  it('answers the largest batches Event Grid sends well within 30 s, with no receipt for blobs that do not exist', async () => {
    const receipts = await receiptCount();
    // As many BlobCreated events as fit in Event Grid's 1 MB batch (about 550 bytes each), for blobs that are not there.
    const events = Array.from({ length: 1800 }, (_, i) =>
      eventFor(`/blobServices/default/containers/incoming/blobs/flood/dots/${i}.png`, `f${i}`),
    );
    expect(Buffer.byteLength(JSON.stringify(events))).toBeLessThan(1024 * 1024);
    let started = Date.now();
    const answer = await deliver(events);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(answer).toEqual({ status: 202, body: { accepted: 1800, skipped: 0, ignoredEvents: 0, rejectedEvents: 0 } });
    expect(await receiptCount()).toBe(receipts);
    // And Event Grid's most events, 5,000 (of another type, as a subscription without a type filter sends them).
    started = Date.now();
    const many = await deliver(
      Array.from({ length: 5000 }, (_, i) => ({ id: `d${i}`, eventType: 'Microsoft.Storage.BlobDeleted' })),
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(many).toEqual({ status: 202, body: { accepted: 0, skipped: 0, ignoredEvents: 5000, rejectedEvents: 0 } });
  });
});

// Fuzzing the blob extension's webhook (/runtime/webhooks/blobs) with generated Event Grid deliveries: subjects with
// dot segments (plain and percent-encoded), empty segments, other containers and accounts, huge names, data.url and
// topic that agree or not, missing fields, both schemas. The webhook never answers 5xx, and nothing outside the
// trigger's container is ever written: every blob of the account (and its ETag and metadata) is as it was.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AZURITE_ACCOUNT_NAME } from '../../src/config';
import type { RunningHost } from '../../src/host/localHost';
import { startAppHost, testSettings } from '../support/appHost';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { fuzzRuns, reportFuzz } from './fuzzRuns';

let storage: TestStorage;
let host: RunningHost;

/** Blobs of other containers that a hostile subject aims at. */
const VICTIMS = [
  { container: 'victim7', name: 'secret.txt' },
  { container: 'models', name: 'base/current.json' },
  { container: 'quarantine', name: 'kept/x.png' },
];

beforeAll(async () => {
  storage = await startTestStorage();
  for (const { container, name } of VICTIMS) {
    const client = storage.clients.blobs.getContainerClient(container);
    await client.createIfNotExists();
    await client.getBlockBlobClient(name).upload('keep me', 7, { metadata: { owner: 'someone-else' } });
  }
  await storage.clients.blobs.getContainerClient('incoming').createIfNotExists();
  host = await startAppHost({
    hostId: 'fuzz-webhook',
    settings: testSettings(storage.azurite.connectionString, { INGEST_BLOB_SOURCE: 'EventGrid' }),
  });
}, 60_000);
afterAll(async () => {
  await host?.stop();
  await storage?.azurite.close();
});

/** Every blob of the account, with its ETag and metadata (the receipts' container included). */
async function accountState(): Promise<string[]> {
  const state: string[] = [];
  for await (const container of storage.clients.blobs.listContainers()) {
    const client = storage.clients.blobs.getContainerClient(container.name);
    for await (const blob of client.listBlobsFlat({ includeMetadata: true }))
      state.push(`${container.name}/${blob.name} ${blob.properties.etag} ${JSON.stringify(blob.metadata ?? {})}`);
  }
  return state.sort();
}

const segment = fc.oneof(
  fc.constantFrom('..', '.', '', '%2e%2e', '%2E.', '.%2e', '%2F', '..%2F', '\\..', '..\\', 'secret.txt', 'victim7'),
  fc.constantFrom('models', 'base', 'current.json', 'dots', 'a.png', 'quarantine', 'incoming', '%00', '\u2028'),
  fc.string({ maxLength: 12 }),
);
const blobName = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((segments) => segments.join('/')),
  fc.integer({ min: 1000, max: 120_000 }).map((length) => 'n'.repeat(length)),
);
const container = fc.oneof(
  fc.constantFrom(
    'incoming',
    'victim7',
    'models',
    'quarantine',
    'Incoming',
    '..',
    '.',
    '',
    '%2e%2e',
    'azure-webjobs-hosts',
  ),
  fc.string({ maxLength: 8 }),
);
const subject = fc.oneof(
  fc.tuple(container, blobName).map(([c, name]) => `/blobServices/default/containers/${c}/blobs/${name}`),
  fc
    .tuple(fc.constantFrom('/blobServices/default/containers/incoming/', '/blobServices/default/', ''), fc.string())
    .map(([prefix, rest]) => prefix + rest),
);
/** data.url: what the SDK makes of the subject's names, the names pasted in raw, another account's, or junk. */
const urlKind = fc.constantFrom('sdk', 'raw', 'other-account', 'junk', 'missing');
const topic = fc.constantFrom(
  `/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${AZURITE_ACCOUNT_NAME}`,
  '/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/someoneelse',
  '/subscriptions/0',
  undefined,
);
const event = fc.record({
  subject,
  urlKind,
  topic,
  schema: fc.constantFrom('eventgrid', 'cloudevents'),
  eTag: fc.option(fc.constantFrom('0x8D0', '"0x8D1"', ''), { nil: undefined }),
  type: fc.constantFrom(
    'Microsoft.Storage.BlobCreated',
    'Microsoft.Storage.BlobCreated',
    'Microsoft.Storage.BlobDeleted',
  ),
});

function urlFor(kind: string, subjectText: string): string | undefined {
  const match = /^\/blobServices\/default\/containers\/([^/]*)\/blobs\/(.*)$/s.exec(subjectText);
  const [c, name] = match ? [match[1]!, match[2]!] : ['incoming', 'x'];
  const service = storage.clients.blobs.url.replace(/\/$/, '');
  switch (kind) {
    case 'sdk':
      try {
        return storage.clients.blobs.getContainerClient(c).getBlobClient(name).url;
      } catch {
        return undefined; // the SDK takes no such container name
      }
    case 'raw':
      return `${service}/${c}/${name}`;
    case 'other-account':
      return `${service.replace(`/${AZURITE_ACCOUNT_NAME}`, '/someoneelse')}/${c}/${name}`;
    case 'junk':
      return 'not a url';
    default:
      return undefined;
  }
}

type GeneratedEvent = typeof event extends fc.Arbitrary<infer T> ? T : never;

function wire(e: GeneratedEvent): Record<string, unknown> {
  const data = {
    api: 'PutBlob',
    blobType: 'BlockBlob',
    ...(e.eTag !== undefined ? { eTag: e.eTag } : {}),
    ...(urlFor(e.urlKind, e.subject) !== undefined ? { url: urlFor(e.urlKind, e.subject) } : {}),
  };
  return e.schema === 'eventgrid'
    ? { id: '1', eventType: e.type, subject: e.subject, ...(e.topic ? { topic: e.topic } : {}), data, dataVersion: '' }
    : { specversion: '1.0', id: '1', type: e.type, subject: e.subject, ...(e.topic ? { source: e.topic } : {}), data };
}

describe('fuzz: the blob webhook', () => {
  it('never answers 5xx and never writes outside the trigger container, whatever the subjects', async () => {
    const before = await accountState();
    const runs = fuzzRuns(150);
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 4 }), async (events) => {
        tried++;
        const response = await fetch(`${host.url}/runtime/webhooks/blobs?functionName=Host.Functions.ingest`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
          body: JSON.stringify(events.map(wire)),
        });
        const text = await response.text();
        const what = `${events.map((e) => JSON.stringify(e.subject).slice(0, 120)).join(', ')}: ${response.status} ${text.slice(0, 300)}`;
        expect(response.status < 500, what).toBe(true);
        expect(JSON.parse(text), what).toBeTypeOf('object');
        // The victims, after each delivery (the hand-over is awaited before the answer when it is quick).
        for (const { container: c, name } of VICTIMS) {
          const properties = await storage.clients.blobs.getContainerClient(c).getBlobClient(name).getProperties();
          expect(properties.metadata, `${c}/${name} after ${what}`).toEqual({ owner: 'someone-else' });
        }
      }),
      { numRuns: runs, seed: 5 },
    );
    // Nothing written anywhere: no blob named by the events exists, so not even a receipt.
    expect(await accountState()).toEqual(before);
    reportFuzz('blob webhook subjects', tried, 0);
  }, 600_000);
});

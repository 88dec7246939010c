// Fuzzing ingest with mutated image bytes (truncated, bit-flipped, spliced, re-headed) under generated names:
// every blob ends in the catalog, rejected ones in quarantine with their reason, and nothing throws.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import fc from 'fast-check';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createServices, type Services } from '../../src/services';
import { INCOMING_CONTAINER, QUARANTINE_CONTAINER } from '../../src/storage/names';
import { startTestStorage, type TestStorage } from '../support/azurite';
import { encodeBmp24 } from '../support/images';
import { haveShared, sharedPath } from '../support/shared';
import { fuzzRuns, reportFuzz } from './fuzzRuns';

let storage: TestStorage;
let services: Services;
const seeds: Buffer[] = [];

beforeAll(async () => {
  storage = await startTestStorage();
  services = await createServices({ AzureWebJobsStorage: storage.azurite.connectionString });
  // A real photo when ../shared is there; else a generated one (the mutations matter here, not the picture).
  const photo = haveShared
    ? readFileSync(path.join(sharedPath('fixtures', 'dhash'), 'dog.jpg'))
    : await sharp({
        create: {
          width: 768,
          height: 576,
          channels: 3,
          background: '#789',
          noise: { type: 'gaussian', mean: 128, sigma: 40 },
        },
      })
        .jpeg()
        .toBuffer();
  const small = await sharp(photo).resize(96, 72).toBuffer();
  const { data, info } = await sharp(small).raw().toBuffer({ resolveWithObject: true });
  seeds.push(
    small,
    await sharp(small).png().toBuffer(),
    await sharp(small).webp().toBuffer(),
    await sharp(small).gif().toBuffer(),
    encodeBmp24(data, info.width, info.height),
  );
}, 60_000);
afterAll(async () => {
  await storage?.azurite.close();
});

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }),
  }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    bytes: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({ kind: fc.constant('reheader' as const), other: fc.nat(4), keep: fc.integer({ min: 2, max: 64 }) }),
  fc.record({ kind: fc.constant('none' as const) }),
);

interface Mutation {
  kind: string;
  at?: number | number[];
  bytes?: Uint8Array;
  other?: number;
  keep?: number;
}

function mutate(seed: Buffer, m: Mutation): Buffer {
  const out = Buffer.from(seed);
  switch (m.kind) {
    case 'truncate':
      return out.subarray(0, Math.floor((m.at as number) * out.length));
    case 'flip':
      for (const at of m.at as number[]) out[Math.floor(at * (out.length - 1))]! ^= 0xff;
      return out;
    case 'splice': {
      const at = Math.floor((m.at as number) * out.length);
      return Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes!), out.subarray(at)]);
    }
    case 'reheader':
      // The first bytes of another format on this one's body.
      return Buffer.concat([seeds[m.other!]!.subarray(0, m.keep), out.subarray(m.keep)]);
    default:
      return out;
  }
}

// Name characters, line terminators included.
const nameChar = fc.constantFrom(
  ...[
    'a',
    'b',
    'X',
    '0',
    '9',
    ' ',
    '.',
    '_',
    '-',
    '+',
    '#',
    '?',
    '%',
    '~',
    '(',
    '[',
    '\\',
    '\n',
    '\r',
    '\u2028',
    '\u2029',
    '\u00e9',
    '\u4e2d',
  ],
);
const name = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('fuzz', 'Bad..Set', 'f'),
      fc.constantFrom('dots', 'a+b', 'a+a', '', 'x'.repeat(70)),
      fc.string({ unit: nameChar, minLength: 0, maxLength: 20 }),
    )
    .map(([d, l, f]) => `${d}/${l}/${f}`),
  fc.string({ unit: nameChar, minLength: 1, maxLength: 40 }).map((s) => `fuzz/${s}`),
);

describe('fuzz: ingest', () => {
  it('records every mutated blob once: accepted, duplicate or rejected with a reason and a quarantine copy', async () => {
    const runs = fuzzRuns(60);
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(seeds.length - 1),
        mutation,
        name,
        fc.nat(1_000_000),
        async (which, m, blobName, salt) => {
          tried++;
          const unique = `${blobName}-${salt}-${tried}`;
          const content = mutate(seeds[which]!, m);
          await services.storage.blobs
            .getContainerClient(INCOMING_CONTAINER)
            .getBlockBlobClient(unique)
            .uploadData(content);
          const outcome = await services.ingestor.ingest({ blobName: unique, content });
          expect(['accepted', 'duplicate', 'nearDuplicate', 'rejected'], unique).toContain(outcome.status);
          if (outcome.status === 'rejected') {
            expect(outcome.reason, unique).toMatch(/\w/);
            const copy = services.storage.blobs.getContainerClient(QUARANTINE_CONTAINER).getBlockBlobClient(unique);
            expect((await copy.getProperties()).metadata?.['rejection_code'], unique).toMatch(/^[a-z-]+$/);
          }
          // Ingesting it again changes nothing.
          const again = await services.ingestor.ingest({ blobName: unique, content });
          expect(again, JSON.stringify([outcome, again])).toMatchObject({
            status: outcome.status,
            alreadyIngested: true,
          });
        },
      ),
      { numRuns: runs, seed: 4 },
    );
    reportFuzz('ingest of mutated images under generated names', tried, 0);
  }, 600_000);
});

// Fuzzing the catalog's keys: blob names that normalise alike (one segment more or less, case, percent-encodings
// written literally, NFC against NFD, dot segments) each get their own row, and image ids from requests end in an id,
// a 400 or a 404, never in a storage call with a key the table service refuses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { assertImageId } from '../../src/dataset/catalog';
import { catalogKeyOfBlob } from '../../src/dataset/ingest';
import { AppError } from '../../src/errors';
import { fuzzRuns, reportFuzz } from './fuzzRuns';

const segment = fc.oneof(
  fc.constantFrom('D', 'd', 'col4', 'x.png', 'X.PNG', '.', '..', '', 'caf\u00e9', 'cafe\u0301', 'a%2Fb', 'a%252Fb'),
  fc.stringMatching(/^[a-z0-9.%~!'()*-]{1,6}$/),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
);
const blobName = fc.array(segment, { minLength: 1, maxLength: 4 }).map((segments) => segments.join('/'));

/** The variants of a name that a careless key would merge with it. */
function lookAlikes(name: string): string[] {
  const parts = name.split('/');
  return [
    `${parts[0]}/${name}`, // the dataset twice: D/x.png beside D/D/x.png
    parts.slice(1).join('/'),
    name.toUpperCase(),
    name.toLowerCase(),
    name.normalize('NFC'),
    name.normalize('NFD'),
    encodeURIComponent(name),
    name.replaceAll('%2F', '/'),
    name.replace('/', '/./'),
    name.replace('/', '//'),
  ].filter((other) => other !== name && other.length > 0);
}

const keyText = (name: string) => {
  const key = catalogKeyOfBlob(name);
  return `${key.dataset}\u0000${key.id}`;
};

describe('fuzz: catalog keys', () => {
  it('distinct blob names get distinct rows, look-alikes included', () => {
    const runs = fuzzRuns(2000);
    let tried = 0;
    fc.assert(
      fc.property(blobName, (name) => {
        for (const other of lookAlikes(name)) {
          tried++;
          expect({ name, other, same: keyText(name) === keyText(other) }).toEqual({ name, other, same: false });
        }
        // Every key is one the table service takes.
        const { id } = catalogKeyOfBlob(name);
        // eslint-disable-next-line no-control-regex -- control characters are what the table service refuses
        expect(id).not.toMatch(/[/\\#?\u0000-\u001f\u007f-\u009f]/);
        expect(assertImageId(id)).toBe(id);
      }),
      { numRuns: runs, seed: 7 },
    );
    reportFuzz('catalog keys of look-alike blob names', tried, 0);
  });

  it('any id from a request is an image id, a 400 or a 404', () => {
    const runs = fuzzRuns(2000);
    let tried = 0;
    const id = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }).map((text) => `img:${text}`),
      fc.constantFrom('stats', 'sha256:ab12', 'change:000000000001', 'img:', 'img::', 'img:a/b', 'x'.repeat(2000)),
    );
    fc.assert(
      fc.property(id, (value) => {
        tried++;
        try {
          expect(assertImageId(value)).toBe(value);
          expect(value.startsWith('img:')).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(AppError);
          expect(['invalid-argument', 'not-found']).toContain((error as AppError).kind);
        }
      }),
      { numRuns: runs, seed: 11 },
    );
    reportFuzz('image ids from requests', tried, 0);
  });
});

import { describe, expect, it } from 'vitest';

import {
  checkDatasetName,
  checkFileName,
  checkLabelFolder,
  checkLabelName,
  labelFolderFor,
  labelsOf,
  parseImagePath,
} from '../../src/dataset/names';
import { ProgrammingError } from '../../src/errors';

describe('names', () => {
  it.each(['clothes', 'my-set-2', 'abc'])('accepts dataset %s', (name) =>
    expect(checkDatasetName(name)).toBeUndefined(),
  );
  it.each(['ab', 'Clothes', '-lead', 'trail-', 'double--hyphen', 'dots.no', 'a'.repeat(64), '../x'])(
    'rejects dataset %s',
    (name) => expect(checkDatasetName(name)).toMatch(/dataset name/),
  );
  it.each(['t-shirt', 'Striped shirt', 'leopard_print', 'v1.2', 'çà'])('accepts label %s', (name) =>
    expect(checkLabelName(name)).toBeUndefined(),
  );
  it.each(['', '..', '.hidden', 'a..b', 'ends.', 'ends ', 'sl/ash', 'back\\slash', 'x'.repeat(65), 'tab\there'])(
    'rejects label %j',
    (name) => expect(checkLabelName(name)).toMatch(/label/),
  );
  it.each(['IMG_0001.JPG', 'no-extension', 'photo (1).jpeg', 'ünïcödé.png'])('accepts file %s', (name) =>
    expect(checkFileName(name)).toBeUndefined(),
  );
  it.each(['', '.', '..', 'a#b.jpg', 'q?.jpg', 'ctrl\u0001.jpg', 'x'.repeat(256)])('rejects file %j', (name) =>
    expect(checkFileName(name)).toBeDefined(),
  );

  it('splits a blob path and says why a bad one is unusable', () => {
    expect(parseImagePath('clothes/striped/IMG_1.JPG')).toEqual({
      path: { dataset: 'clothes', label: 'striped', name: 'IMG_1.JPG' },
    });
    expect(parseImagePath('clothes/img.jpg')).toEqual({ problem: expect.stringMatching(/not of the form/) });
    expect(parseImagePath('clothes/../x.jpg')).toEqual({ problem: expect.stringMatching(/label/) });
  });

  it("reads a multi-label image's labels from its folder, a+b, and names a bad set", () => {
    expect(parseImagePath('fridge/can+carton/1.jpg')).toEqual({
      path: { dataset: 'fridge', label: 'can+carton', name: '1.jpg' },
    });
    expect(labelsOf('can+carton')).toEqual(['can', 'carton']);
    expect(labelsOf('can')).toEqual(['can']);
    expect(labelFolderFor(['milk bottle', 'can', 'can'])).toBe('can+milk bottle');
    // Its callers pass labels.csv's checked rows: no label at all is their bug, not the user's.
    expect(() => labelFolderFor([])).toThrow(ProgrammingError);
    expect(() => labelFolderFor([])).toThrow('an image needs at least one label');
    expect(() => labelFolderFor(['ok', 'a/b'])).toThrow(/label "a\/b" is invalid/);
    expect(checkLabelFolder('can+can')).toBe('label set "can+can" names a label twice');
    expect(checkLabelFolder('can+')).toMatch(/^label set "can\+": label "" is invalid/);
    expect(checkLabelFolder('+can')).toMatch(/label set/);
  });
});

// The quick JPEG/PNG header reader against sharp's own metadata, on every fixture photo; the SVG and ISO BMFF
// (HEIF) signatures that validation refuses by.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { isSvg, readFileTypeBrands, readQuickHeader } from '../../src/image/imageHeader';
import { describeWithShared, haveShared, sharedPath } from '../support/shared';

// Every case reads the real photos of ../shared, so all skip without it.
const dir = haveShared ? sharedPath('fixtures', 'dhash') : '';
const files = haveShared ? readdirSync(dir).filter((name) => /\.(jpe?g|png)$/i.test(name)) : [];

describeWithShared('readQuickHeader', () => {
  it.each(files)('%s: same dimensions and orientation as sharp', async (name) => {
    const content = readFileSync(path.join(dir, name));
    const quick = readQuickHeader(content);
    const metadata = await sharp(content).metadata();
    expect(quick).toBeDefined();
    expect(quick).toMatchObject({ format: metadata.format, width: metadata.width, height: metadata.height });
    expect(quick!.orientation).toBe(metadata.orientation);
    if (metadata.format === 'jpeg') expect(quick!.components).toBe(metadata.channels);
  });

  it('leaves anything it cannot read to sharp', () => {
    const jpeg = readFileSync(path.join(dir, 'dog.jpg'));
    expect(readQuickHeader(jpeg.subarray(0, 20))).toBeUndefined();
    expect(readQuickHeader(Buffer.from('GIF89a'))).toBeUndefined();
    expect(readQuickHeader(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('isSvg', () => {
  it.each([
    '<svg xmlns="http://www.w3.org/2000/svg"/>',
    '\uFEFF<svg>',
    ' \r\n\t<svg\nwidth="1">',
    '<?xml version="1.0"?><svg>',
    '<?xml version="1.0"?>\n<?xml-stylesheet href="a.css"?>\n<!-- c -->\n<!DOCTYPE svg [ <!ENTITY a "b>"> ]>\n<svg>',
    '<?xml version="1.0"?><svg:svg xmlns:svg="http://www.w3.org/2000/svg">',
  ])('finds SVG in %j', (text) => {
    expect(isSvg(Buffer.from(text))).toBe(true);
  });

  it.each([
    '<html><svg></svg></html>',
    '<?xml version="1.0"?><svgfoo/>',
    '<?xml version="1.0"',
    '<!-- <svg>',
    'svg',
    '',
  ])('finds no SVG in %j', (text) => {
    expect(isSvg(Buffer.from(text))).toBe(false);
  });
});

describe('readFileTypeBrands', () => {
  it('reads the major and compatible brands of an ftyp box, and nothing of other files', () => {
    const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1')]);
    expect(readFileTypeBrands(ftyp)).toEqual({ major: 'heic', compatible: ['mif1', 'heic'] });
    expect(readFileTypeBrands(Buffer.from('GIF89a and some more bytes'))).toBeUndefined();
    expect(readFileTypeBrands(ftyp.subarray(0, 12))).toBeUndefined();
  });
});

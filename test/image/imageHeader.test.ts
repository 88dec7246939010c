// The quick JPEG/PNG header reader against sharp's own metadata, on every fixture photo.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import sharp from 'sharp';
import { expect, it } from 'vitest';

import { readQuickHeader } from '../../src/image/imageHeader';
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

// labels.csv of the multi-label layout (DIR/images/ + DIR/labels.csv): parsing, every error with its line, and the
// folder check against images/.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { isMultiLabelFolder, parseLabelsCsv, readMultiLabelFolder } from '../../src/dataset/labelsCsv';
import { InvalidArgumentError, messageOf } from '../../src/errors';

describe('parseLabelsCsv', () => {
  it('reads the recipes’ fridge layout', () => {
    const text = 'filename,labels\n1.jpg,milk_bottle carton\n2.jpg,can\n3.jpg,water_bottle milk_bottle can\n';
    expect(parseLabelsCsv(text)).toEqual([
      { line: 2, name: '1.jpg', labels: ['milk_bottle', 'carton'] },
      { line: 3, name: '2.jpg', labels: ['can'] },
      { line: 4, name: '3.jpg', labels: ['water_bottle', 'milk_bottle', 'can'] },
    ]);
  });

  it('takes a BOM, CRLF, any header case, blank lines, runs of whitespace and no final newline', () => {
    const text = '\uFEFF FileName , LABELS \r\n\r\n1.jpg,  can\t carton \r\n   \r\n 2.jpg ,can\r\n\n3.jpg,carton';
    expect(parseLabelsCsv(text)).toEqual([
      { line: 3, name: '1.jpg', labels: ['can', 'carton'] },
      { line: 5, name: '2.jpg', labels: ['can'] },
      { line: 7, name: '3.jpg', labels: ['carton'] },
    ]);
    expect(parseLabelsCsv('filename,labels')).toEqual([]);
  });

  it('reads RFC 4180 quoting: commas, doubled quotes and line breaks inside quotes', () => {
    const text =
      '"filename","labels"\n"a, b.jpg","can carton"\n"say ""cheese"".jpg",can\nc.jpg,"can\ncarton"\nd.jpg,""can""\n';
    // The last row is not valid RFC 4180 (text after a closing quote): checked below.
    expect(() => parseLabelsCsv(text)).toThrow('labels.csv line 6: unexpected text after a closing quote');
    expect(parseLabelsCsv(text.slice(0, text.indexOf('d.jpg')))).toEqual([
      { line: 2, name: 'a, b.jpg', labels: ['can', 'carton'] },
      { line: 3, name: 'say "cheese".jpg', labels: ['can'] },
      { line: 4, name: 'c.jpg', labels: ['can', 'carton'] },
    ]);
  });

  it.each([
    ['', 'labels.csv must start with the header "filename,labels"; found an empty file'],
    ['\n\n', 'labels.csv must start with the header "filename,labels"; found an empty file'],
    ['image,labels\n1.jpg,can\n', 'labels.csv must start with the header "filename,labels"; found "image,labels"'],
    [
      'filename,labels,extra\n',
      'labels.csv must start with the header "filename,labels"; found "filename,labels,extra"',
    ],
    ['1.jpg,can\n', 'labels.csv must start with the header "filename,labels"; found "1.jpg,can"'],
    [
      'filename,labels\n1.jpg\n',
      'labels.csv line 2: expected 2 fields (filename,labels), found 1; quote a field that contains a comma',
    ],
    [
      'filename,labels\n1.jpg,can,carton\n',
      'labels.csv line 2: expected 2 fields (filename,labels), found 3; quote a field that contains a comma',
    ],
    ['filename,labels\n ,can\n', 'labels.csv line 2: the file name is empty'],
    [
      'filename,labels\nsub/1.jpg,can\n',
      'labels.csv line 2: file name "sub/1.jpg" is invalid: it must not contain folders',
    ],
    ['filename,labels\nsub\\1.jpg,can\n', 'labels.csv line 2: file name "sub\\\\1.jpg" is invalid'],
    [
      'filename,labels\n1.jpg,can\n\n2.jpg,\n',
      'labels.csv line 4: 2.jpg has no labels; every image needs at least one',
    ],
    ['filename,labels\n1.jpg,"  "\n', 'labels.csv line 2: 1.jpg has no labels'],
    [
      'filename,labels\n1.jpg,can\n2.jpg,carton\n3.jpg,x/y\n',
      'labels.csv line 4: label "x/y" is invalid: use 1-64 letters',
    ],
    ['filename,labels\n1.jpg,can+carton\n', 'labels.csv line 2: label "can+carton" is invalid'],
    ['filename,labels\n1.jpg,_can\n', 'labels.csv line 2: label "_can" is invalid'],
    ['filename,labels\n1.jpg,can carton can\n', 'labels.csv line 2: label "can" is repeated'],
    [
      'filename,labels\n1.jpg,can\n2.jpg,can\n\n1.jpg,carton\n',
      'labels.csv line 5: 1.jpg is listed again (first on line 2)',
    ],
    ['filename,labels\n1.jpg,"can\n', 'labels.csv line 2: a quoted field is not closed'],
    ['filename,labels\n1.jpg,"can\ncarton\n', 'labels.csv line 2: a quoted field is not closed'],
    [
      'filename,labels\n1"a.jpg,can\n',
      'labels.csv line 2: a quote inside an unquoted field; quote the whole field and double the quote ("")',
    ],
    ['filename,labels\n"1.jpg" x,can\n', 'labels.csv line 2: unexpected text after a closing quote'],
  ])('rejects %j', (text, message) => {
    let error: unknown;
    try {
      parseLabelsCsv(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(messageOf(error)).toContain(message);
  });

  it('numbers lines after a quoted line break as the file has them', () => {
    expect(() => parseLabelsCsv('filename,labels\n1.jpg,"can\ncarton"\n2.jpg,x/y\n')).toThrow(
      /^labels\.csv line 4: label "x\/y" is invalid/,
    );
  });
});

describe('readMultiLabelFolder', () => {
  const made: string[] = [];
  afterAll(async () => {
    await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
  });
  const folder = async (
    csv: string | undefined,
    images: string[],
    extra: (dir: string) => Promise<void> = async () => undefined,
  ) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'icf-labels-'));
    made.push(dir);
    await mkdir(path.join(dir, 'images'));
    for (const name of images) await writeFile(path.join(dir, 'images', name), 'x');
    if (csv !== undefined) await writeFile(path.join(dir, 'labels.csv'), csv);
    await extra(dir);
    return dir;
  };

  it('lists the rows sorted by name, the labels, and what images/ holds besides', async () => {
    const dir = await folder(
      'filename,labels\nb.jpg,milk_bottle carton\na.jpg,can\nc.png,carton can\n',
      ['a.jpg', 'b.jpg', 'c.png', 'z.jpg', 'notes.txt', '.DS_Store'],
      (d) => mkdir(path.join(d, 'images', 'more')),
    );
    expect(await isMultiLabelFolder(dir)).toBe(true);
    const result = await readMultiLabelFolder(dir);
    expect(result.labels).toEqual(['can', 'carton', 'milk_bottle']);
    expect(result.files).toEqual([
      { path: path.join(dir, 'images', 'a.jpg'), name: 'a.jpg', labels: ['can'] },
      { path: path.join(dir, 'images', 'b.jpg'), name: 'b.jpg', labels: ['milk_bottle', 'carton'] },
      { path: path.join(dir, 'images', 'c.png'), name: 'c.png', labels: ['carton', 'can'] },
    ]);
    expect(result.unlisted).toEqual(['more/', 'notes.txt', 'z.jpg']);
  });

  it('names the line of an image that images/ lacks, and other folder problems', async () => {
    const missing = await folder('filename,labels\na.jpg,can\nb.jpg,carton\n', ['a.jpg']);
    await expect(readMultiLabelFolder(missing)).rejects.toThrow('labels.csv line 3: images/b.jpg does not exist');
    const notFile = await folder('filename,labels\na.jpg,can\nsub,carton\n', ['a.jpg'], (d) =>
      mkdir(path.join(d, 'images', 'sub')),
    );
    await expect(readMultiLabelFolder(notFile)).rejects.toThrow('labels.csv line 3: images/sub is not a file');
    const empty = await folder('filename,labels\n', ['a.jpg']);
    await expect(readMultiLabelFolder(empty)).rejects.toThrow('labels.csv lists no images');
    const noImages = await folder('filename,labels\na.jpg,can\n', [], (d) =>
      rm(path.join(d, 'images'), { recursive: true }),
    );
    await expect(readMultiLabelFolder(noImages)).rejects.toThrow(/has labels\.csv but no readable images\/ folder/);
    const bad = await folder('filename,labels\na.jpg,can\na.jpg,can\n', ['a.jpg']);
    await expect(readMultiLabelFolder(bad)).rejects.toThrow(
      'labels.csv line 3: a.jpg is listed again (first on line 2)',
    );
  });

  it('detects the layout by labels.csv alone', async () => {
    expect(await isMultiLabelFolder(await folder(undefined, ['a.jpg']))).toBe(false);
    expect(await isMultiLabelFolder(await folder(undefined, [], (d) => mkdir(path.join(d, 'labels.csv'))))).toBe(false);
    expect(await isMultiLabelFolder(path.join(tmpdir(), 'no-such-folder-icf'))).toBe(false);
  });
});

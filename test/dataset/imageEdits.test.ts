// Review edits through the real host and Azurite: relabels keep the split and the per-label counts exact, also when
// many run at once and alongside ingest; exclusions leave training and evaluation; every edit is recorded and undone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderGarment } from '../../src/collect/syntheticImages';
import type { CatalogChange, DatasetStats, ImageRecord } from '../../src/dataset/catalog';
import { labelsOf } from '../../src/dataset/names';
import type { Services } from '../../src/services';
import { INCOMING_CONTAINER } from '../../src/storage/names';
import { loadSplits } from '../../src/train/trainer';
import { type AppStack, callApi, seedGarments, startAppStack } from '../support/appHost';

let stack: AppStack;
let services: Services;

const api = <T>(method: string, route: string, body?: unknown) => callApi<T>(stack.host, method, route, body);
const imageRoute = (id: string) => `datasets/tees/images/${encodeURIComponent(id)}`;

async function images(): Promise<(ImageRecord & { id: string })[]> {
  return (await services.catalog.listImages('tees', { status: 'accepted', pageSize: 1000 })).images;
}

/** The per-label counts as the image rows say they must be: accepted, not excluded, by split. */
function countsOf(records: ImageRecord[]): DatasetStats['labels'] {
  const counts: DatasetStats['labels'] = {};
  for (const record of records) {
    if (record.excluded || !record.split) continue;
    for (const label of labelsOf(record.label)) (counts[label] ??= { train: 0, test: 0 })[record.split] += 1;
  }
  return counts;
}

/** Stats labels without the labels left at zero in both splits (a label relabelled away keeps its zero entry). */
function nonZero(labels: DatasetStats['labels']): DatasetStats['labels'] {
  return Object.fromEntries(Object.entries(labels).filter(([, c]) => c.train !== 0 || c.test !== 0));
}

beforeAll(async () => {
  stack = await startAppStack({ hostId: 'edits-test', seed: (created) => seedGarments(created, 'tees') });
  ({ services } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('image review edits', () => {
  let original: DatasetStats['labels'];

  it('relabels an accepted image, keeping its id and split, and moves its count to the new label', async () => {
    original = (await services.catalog.requireStats('tees')).labels;
    const image = (await images()).find((i) => i.label === 'striped' && i.split === 'test')!;
    const edited = await api<{ image: ImageRecord & { id: string }; change: CatalogChange }>(
      'PATCH',
      imageRoute(image.id),
      { label: 'dotted' },
    );
    expect(edited.status).toBe(200);
    expect(edited.body.image).toMatchObject({ id: image.id, label: 'dotted', split: 'test', uploadedLabel: 'striped' });
    expect(edited.body.change).toMatchObject({
      imageId: image.id,
      edits: { label: { from: 'striped', to: 'dotted' } },
    });
    const summary = await api<{ labels: DatasetStats['labels'] }>('GET', 'datasets/tees');
    expect(summary.body.labels['striped']).toEqual({ ...original['striped']!, test: original['striped']!.test - 1 });
    expect(summary.body.labels['dotted']).toEqual({ ...original['dotted']!, test: original['dotted']!.test + 1 });
    const again = await api<ImageRecord>('GET', imageRoute(image.id));
    expect(again.body).toMatchObject({ label: 'dotted', split: 'test', blobName: image.blobName });
    // The same edit again changes nothing and records nothing.
    const same = await api<{ change?: CatalogChange }>('PATCH', imageRoute(image.id), { label: 'dotted' });
    expect(same.body.change).toBeUndefined();
  });

  it('keeps the per-label counts exact under concurrent relabels, exclusions and an ingest', async () => {
    const all = await images();
    const labels = ['striped', 'dotted', 'leopard'];
    const edits = all
      .slice(0, 14)
      .map((image, i) =>
        api<{ change?: CatalogChange }>(
          'PATCH',
          imageRoute(image.id),
          i % 5 === 4 ? { excluded: true } : { label: labels[(labels.indexOf(image.label) + 1 + (i % 2)) % 3] },
        ),
      );
    // The same image relabelled twice at once: both land, one after the other.
    const twice = all[20]!;
    const both = [
      api('PATCH', imageRoute(twice.id), { label: 'leopard+striped' }),
      api('PATCH', imageRoute(twice.id), { excluded: true }),
    ];
    const blobName = 'tees/dotted/late.jpg';
    const content = await renderGarment({ item: 'hoodie', pattern: 'dotted', seed: 9001 });
    await services.storage.blobs
      .getContainerClient(INCOMING_CONTAINER)
      .getBlockBlobClient(blobName)
      .uploadData(content);
    const ingest = services.ingestor.ingest({ blobName, content });
    const answers = await Promise.all([...edits, ...both]);
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect((await ingest).status).toBe('accepted');
    const after = await images();
    const stats = await services.catalog.requireStats('tees');
    expect(nonZero(stats.labels)).toEqual(countsOf(after));
    // Splits never moved.
    const splitOf = new Map(all.map((image) => [image.id, image.split]));
    for (const image of after) if (splitOf.has(image.id)) expect(image.split).toBe(splitOf.get(image.id));
    expect(after.find((image) => image.id === twice.id)).toMatchObject({ label: 'leopard+striped', excluded: true });
  });

  it('leaves excluded images out of training and evaluation', async () => {
    const excluded = (await images()).filter((image) => image.excluded).map((image) => image.id);
    expect(excluded.length).toBeGreaterThan(0);
    const splits = await loadSplits(services.catalog, 'tees');
    const used = [...splits.train, ...splits.test].map((image) => image.record.blobName);
    const all = await images();
    expect(used).toHaveLength(all.length - excluded.length);
    for (const id of excluded) expect(used).not.toContain(all.find((image) => image.id === id)!.blobName);
  });

  it('records every change, newest first, and undoes them one by one back to the original counts', async () => {
    const { body } = await api<{ changes: CatalogChange[] }>('GET', 'datasets/tees/changes');
    expect(body.changes.length).toBe(17);
    const ids = body.changes.map((change) => change.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    for (const change of body.changes) expect(Date.parse(change.at)).not.toBeNaN();
    for (let i = 0; i < 17; i++) {
      const undo = await api<{ undone: CatalogChange; change: CatalogChange }>('POST', 'datasets/tees/changes/undo');
      expect(undo.status).toBe(200);
      expect(undo.body.undone.id).toBe(body.changes[i]!.id);
      expect(undo.body.change).toMatchObject({ undoes: body.changes[i]!.id, imageId: body.changes[i]!.imageId });
    }
    const nothing = await api<{ message: string }>('POST', 'datasets/tees/changes/undo');
    expect(nothing).toMatchObject({ status: 404, body: { message: 'dataset "tees" has no change left to undo' } });
    const after = await images();
    expect(after.filter((image) => image.excluded)).toEqual([]);
    const late = after.find((image) => image.name === 'late.jpg')!;
    const expected = { ...original, dotted: { ...original['dotted']! } };
    expected['dotted'][late.split!] += 1;
    expect(nonZero((await services.catalog.requireStats('tees')).labels)).toEqual(expected);
    expect(after.every((image) => image.label === (image.uploadedLabel ?? image.label))).toBe(true);
    for (const image of after) expect(image.blobName).toBe(`tees/${image.label}/${image.name}`);
  });

  it('refuses bad edits with messages that name the field', async () => {
    const image = (await images())[0]!;
    const cases: [unknown, number, RegExp][] = [
      [{ label: 'a/b' }, 400, /^label: /],
      [{ label: 7 }, 400, /^expected a string for label but received 7 of type number$/],
      [{ label: 'shirt+shirt' }, 400, /names a label twice/],
      [{ excluded: 'yes' }, 400, /^expected true or false for excluded but received "yes"$/],
      [{ colour: 'red' }, 400, /^unknown field\(s\) "colour"; an edit takes label, excluded$/],
      [{}, 400, /^an edit needs label or excluded$/],
      [[1], 400, /must be an object/],
    ];
    for (const [body, status, message] of cases) {
      const answer = await api<{ message: string }>('PATCH', imageRoute(image.id), body);
      expect({ body, status: answer.status }).toEqual({ body, status });
      expect(answer.body.message).toMatch(message);
    }
    expect((await api('PATCH', imageRoute('img:nope'), { excluded: true })).status).toBe(404);
    expect((await api('PATCH', 'datasets/no-such-set/images/img%3Ax', { excluded: true })).status).toBe(404);
    expect((await api('GET', 'datasets/tees/changes?limit=0')).status).toBe(400);
  });
});

// Suspect labels: confident learning on given probabilities, then end to end on the local host: a seeded garment
// set with three labels flipped on purpose and a near-identical copy filed under another label, trained by POST
// /train; GET /suspects flags the flipped images (proposing their true pattern) and few clean ones, lists the
// conflicting pair and the test mistakes, reads its features from the cache the second time, and `icf review
// --suspects` prints the same list.

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { run as icf } from '../../src/cli/main';
import { renderGarment } from '../../src/collect/syntheticImages';
import type { RunningHost } from '../../src/host/localHost';
import { confidentLearning, type SuspectReport } from '../../src/review/suspects';
import type { Services } from '../../src/services';
import { INCOMING_CONTAINER } from '../../src/storage/names';
import type { TrainJob } from '../../src/train/jobs';
import { type AppStack, callApi, startAppStack } from '../support/appHost';
import { capturedOutput } from '../support/capturedOutput';
import { waitFor } from '../support/waitFor';

describe('confidentLearning', () => {
  it('flags an image under its own class threshold with another class at or over its threshold', () => {
    const probabilities = [
      [0.9, 0.1, 0.0],
      [0.7, 0.3, 0.0],
      [0.2, 0.8, 0.0], // labelled 0, looks like 1
      [0.1, 0.9, 0.0],
      [0.3, 0.6, 0.1],
      [0.0, 0.2, 0.8],
      [0.4, 0.1, 0.5], // labelled 2, under t_2 = 0.65, but 0.4 < t_0: nothing to propose
    ];
    const given = [0, 0, 0, 1, 1, 2, 2];
    const { thresholds, flags } = confidentLearning(probabilities, given, 3);
    expect(thresholds[0]).toBeCloseTo((0.9 + 0.7 + 0.2) / 3, 12);
    expect(thresholds[1]).toBeCloseTo(0.75, 12);
    expect(thresholds[2]).toBeCloseTo(0.65, 12);
    // Row 1 (p_0 0.7 >= t_0 0.6) and row 4 (p_1 0.6 < 0.75, p_0 0.3 < 0.6) are not flagged.
    expect(flags).toEqual([{ index: 2, proposed: 1, margin: expect.closeTo(0.6, 12) as number, rule: 'threshold' }]);
  });

  it('proposes the likeliest class over its threshold, ranks by margin, and never proposes a class nobody has', () => {
    const probabilities = [
      [0.9, 0.05, 0.05, 0],
      [0.8, 0.1, 0.1, 0],
      [0.3, 0.5, 0.2, 0],
      [0.2, 0.4, 0.4, 0],
      [0.3, 0.2, 0.5, 0],
      [0.2, 0.3, 0.5, 0],
      [0.02, 0.46, 0.5, 0.02], // labelled 0: classes 1 and 2 both reach their thresholds (0.4, 0.5), 2 more so
      [0.1, 0.1, 0.1, 0.7], // labelled 0, but no image is labelled 3: it has no threshold and is not proposed
      [0.42, 0.3, 0.28, 0], // labelled 1, under t_1 = 0.4; no class reaches its threshold, but 0 is likelier
    ];
    const { thresholds, flags } = confidentLearning(probabilities, [0, 0, 1, 1, 2, 2, 0, 0, 1], 4);
    expect(thresholds[0]).toBeCloseTo(0.455, 12);
    expect(thresholds[1]).toBeCloseTo(0.4, 12);
    expect(thresholds[2]).toBeCloseTo(0.5, 12);
    expect(thresholds[3]).toBe(Infinity);
    expect(flags).toEqual([
      { index: 6, proposed: 2, margin: expect.closeTo(0.48, 12) as number, rule: 'threshold' },
      { index: 8, proposed: 0, margin: expect.closeTo(0.12, 12) as number, rule: 'top-label' },
    ]);
    const ranked = confidentLearning(
      [
        [0.45, 0.55],
        [0.1, 0.9],
        [0.95, 0.05],
        [0.5, 0.5],
      ],
      [0, 0, 0, 1],
      2,
    );
    expect(ranked.flags.map((f) => f.index)).toEqual([1, 0]);
    expect(ranked.flags[0]!.margin).toBeCloseTo(0.8, 12);
    expect(ranked.flags[1]!.margin).toBeCloseTo(0.1, 12);
  });

  it('names a row that does not fit', () => {
    expect(() => confidentLearning([[0.5, 0.5]], [0, 1], 2)).toThrow('1 probability rows for 2 labels');
    expect(() => confidentLearning([[1]], [0], 2)).toThrow('row 0 has 1 probabilities for 2 classes');
    expect(() => confidentLearning([[0.5, 0.5]], [2], 2)).toThrow('label 2 of row 0 is not a class index below 2');
  });
});

const PATTERNS = ['striped', 'dotted', 'leopard'] as const;
/** Each pattern's first image filed under the next pattern's label. */
const FLIPPED = PATTERNS.map((pattern, p) => ({ pattern, label: PATTERNS[(p + 1) % PATTERNS.length]!, seed: 77 + p }));
const flippedName = (f: (typeof FLIPPED)[number]) => `flipped-${f.pattern}.jpg`;

let stack: AppStack;
let services: Services;
let host: RunningHost;

function api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  return callApi<T>(host, method, route, body);
}

async function seed(created: Services): Promise<void> {
  const incoming = created.storage.blobs.getContainerClient(INCOMING_CONTAINER);
  const put = async (blobName: string, content: Buffer) => {
    await incoming.getBlockBlobClient(blobName).uploadData(content);
    await created.ingestor.ingest({ blobName, content });
  };
  for (const pattern of PATTERNS) {
    for (let i = 0; i < 10; i++) {
      await put(
        `tees/${pattern}/${pattern}-${i}.jpg`,
        await renderGarment({ item: 't-shirt', pattern, seed: 500 + i * 7 + pattern.length }),
      );
    }
  }
  for (const f of FLIPPED)
    await put(
      `tees/${f.label}/${flippedName(f)}`,
      await renderGarment({ item: 't-shirt', pattern: f.pattern, seed: f.seed }),
    );
  // The same photo re-encoded, under another label: a near duplicate that ingest keeps out, and a label conflict.
  const original = await incoming.getBlockBlobClient('tees/striped/striped-0.jpg').downloadToBuffer();
  await put('tees/leopard/copy-of-striped-0.jpg', await sharp(original).jpeg({ quality: 60 }).toBuffer());
  // A multi-label dataset (400) and one with images but no model (503).
  const plain = await renderGarment({ item: 't-shirt', pattern: 'dotted', seed: 3 });
  await put('scenes/dotted+leopard/a.jpg', plain);
  await put('untrained/dotted/a.jpg', plain);
}

beforeAll(async () => {
  stack = await startAppStack({ hostId: 'suspects-test', seed });
  ({ services, host } = stack);
  const started = await api<{ jobId: string }>('POST', 'datasets/tees/train', { augmentedViews: 0 });
  expect(started.status).toBe(202);
  const job = await waitFor(
    `training job ${started.body.jobId}`,
    async () => {
      const { body } = await api<TrainJob>('GET', `datasets/tees/jobs/${started.body.jobId}`);
      return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
    },
    240_000,
  );
  expect(job.error).toBeUndefined();
  expect(job.published).toBe(true);
}, 360_000);

afterAll(async () => {
  await stack?.close();
});

describe('GET /api/datasets/{dataset}/suspects', () => {
  let report: SuspectReport;

  it('flags the flipped training images with their true pattern, and few clean ones', async () => {
    const response = await api<SuspectReport>('GET', 'datasets/tees/suspects');
    expect(response.status).toBe(200);
    report = response.body;
    const { images } = await services.catalog.listImages('tees', { status: 'accepted', pageSize: 1000 });
    const train = images.filter((image) => image.split === 'train');
    expect(report).toMatchObject({ dataset: 'tees', task: 'single-label', trainImages: train.length, folds: 5 });
    expect(Object.keys(report.thresholds).sort()).toEqual([...PATTERNS].sort());
    // Features cached under the model version: none yet for a model just trained.
    expect(report.cachedFeatures).toBe(0);
    const flippedInTrain = FLIPPED.filter((f) => train.some((image) => image.name === flippedName(f)));
    // The split is ingest's; these seeds put at least two of the three in the training split.
    expect(flippedInTrain.length).toBeGreaterThanOrEqual(2);
    for (const f of flippedInTrain) {
      const suspect = report.suspects.find((s) => s.name === flippedName(f));
      expect(suspect, `${flippedName(f)} (a ${f.pattern} t-shirt labelled ${f.label})`).toMatchObject({
        label: f.label,
        proposedLabel: f.pattern,
      });
      expect(suspect!.probabilities[f.pattern]!).toBeGreaterThan(suspect!.probabilities[f.label]!);
      expect(suspect!.id).toBe(train.find((image) => image.name === flippedName(f))!.id);
    }
    // Ranked by margin, the flipped ones first; clean images are mostly left alone.
    const margins = report.suspects.map((s) => s.margin);
    expect([...margins].sort((a, b) => b - a)).toEqual(margins);
    expect(
      report.suspects
        .slice(0, flippedInTrain.length)
        .map((s) => s.name)
        .sort(),
    ).toEqual(flippedInTrain.map(flippedName).sort());
    const clean = report.suspects.filter((s) => !s.name.startsWith('flipped-'));
    expect(clean.length).toBeLessThanOrEqual(Math.ceil(0.1 * (train.length - flippedInTrain.length)));
    for (const s of report.suspects) {
      const total = Object.values(s.probabilities).reduce((a, b) => a + b, 0);
      expect(total).toBeCloseTo(1, 4);
      // The given and proposed labels' out-of-fold probabilities, spelled out; the margin is their difference.
      expect(s.givenProbability).toBe(s.probabilities[s.label]);
      expect(s.proposedProbability).toBe(s.probabilities[s.proposedLabel]);
      expect(s.margin).toBeCloseTo(s.proposedProbability - s.givenProbability, 5);
    }
  });

  it('lists the near-identical pair with different labels', () => {
    const pair = report.conflictingPairs.find((p) => p.images.some((image) => image.name === 'copy-of-striped-0.jpg'));
    expect(pair).toBeDefined();
    expect(pair!.images.map((image) => [image.name, image.label, image.status]).sort()).toEqual([
      ['copy-of-striped-0.jpg', 'leopard', 'nearDuplicate'],
      ['striped-0.jpg', 'striped', 'accepted'],
    ]);
    expect(pair!.distanceBits).toBeLessThanOrEqual(services.settings.dedup.nearDuplicateMaxBits);
    // Clean images of one pattern are not near-identical to each other's labels.
    expect(report.conflictingPairs).toHaveLength(1);
  });

  it("lists the served model's test mistakes per label (a flipped test image predicted as its pattern)", async () => {
    const { images } = await services.catalog.listImages('tees', { status: 'accepted', pageSize: 1000 });
    const test = images.filter((image) => image.split === 'test');
    expect(report.testMistakes.map((m) => m.label)).toEqual([...PATTERNS].sort());
    expect(report.testMistakes.reduce((sum, m) => sum + m.testImages, 0)).toBe(test.length);
    for (const f of FLIPPED.filter((f) => test.some((image) => image.name === flippedName(f)))) {
      const mistake = report.testMistakes
        .find((m) => m.label === f.label)!
        .mistakes.find((m) => m.name === flippedName(f));
      expect(mistake, flippedName(f)).toMatchObject({ predictedLabel: f.pattern });
      expect(mistake!.predictedProbability).toBeGreaterThan(mistake!.givenProbability);
    }
  });

  it('reads the features from the cache the second time, with the same answer', async () => {
    const again = await api<SuspectReport>('GET', 'datasets/tees/suspects');
    expect(again.status).toBe(200);
    expect(again.body.cachedFeatures).toBe(again.body.trainImages);
    expect(again.body.suspects).toEqual(report.suspects);
    console.log(
      `suspects: ${report.trainImages} training images, first request ${report.seconds.toFixed(1)} s, ` +
        `cached ${again.body.seconds.toFixed(1)} s`,
    );
  });

  it('leaves out an image a review excluded, as training does, and takes it back once included', async () => {
    const first = report.suspects[0]!;
    const route = `datasets/tees/images/${encodeURIComponent(first.id)}`;
    expect((await api('PATCH', route, { excluded: true })).status).toBe(200);
    try {
      const without = await api<SuspectReport>('GET', 'datasets/tees/suspects');
      expect(without.body.trainImages).toBe(report.trainImages - 1);
      expect(without.body.suspects.map((s) => s.id)).not.toContain(first.id);
    } finally {
      expect((await api('PATCH', route, { excluded: false })).status).toBe(200);
    }
    const back = await api<SuspectReport>('GET', 'datasets/tees/suspects');
    expect(back.body.suspects).toEqual(report.suspects);
  });

  it('answers 400 for a multi-label dataset, 503 before a model, 404 for no dataset', async () => {
    const multi = await api<{ error: string; message: string }>('GET', 'datasets/scenes/suspects');
    expect(multi.status).toBe(400);
    expect(multi.body.message).toBe(
      'dataset "scenes" is multi-label; suspect labels are computed for single-label datasets only, for now',
    );
    const untrained = await api<{ error: string }>('GET', 'datasets/untrained/suspects');
    expect(untrained.status).toBe(503);
    expect(untrained.body.error).toBe('NoModel');
    expect((await api('GET', 'datasets/nothing-here/suspects')).status).toBe(404);
  });
});

describe('icf review DATASET --suspects', () => {
  it('prints the suspects with the labels proposed, the conflicting pair and the test mistakes', async () => {
    const out = capturedOutput();
    const err = capturedOutput();
    const code = await icf(['review', 'tees', '--suspects', '--url', host.url], out.stream, err.stream);
    expect(err.text()).toBe('');
    expect(code).toBe(0);
    const { body } = await api<SuspectReport>('GET', 'datasets/tees/suspects');
    const lines = out.text().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^dataset tees, model \\S+: ${body.suspects.length} suspect labels among ${body.trainImages} training images`,
      ),
    );
    // Ranked as the report, each line with the file name, both labels with their probabilities, and the id.
    const percent = (p: number) => `${(p * 100).toFixed(1)}%`;
    body.suspects.forEach((s, rank) => {
      expect(lines[1 + rank]).toBe(
        `${String(rank + 1).padStart(5)}. ${s.name.padEnd(Math.max(...body.suspects.map((t) => t.name.length)))}  ` +
          `labelled ${s.label} (${percent(s.givenProbability)}), ` +
          `proposed ${s.proposedLabel} (${percent(s.proposedProbability)})  ${s.id}`,
      );
    });
    expect(out.text()).toContain('1 near-identical pairs with different labels');
    expect(out.text()).toMatch(
      /copy-of-striped-0\.jpg \(leopard, near duplicate\) and striped-0\.jpg|striped-0\.jpg \(striped, accepted\) and copy-of-striped-0\.jpg \(leopard, near duplicate\)/,
    );
    expect(out.text()).toMatch(/test mistakes of \d+ test images/);
  });

  it('refuses a review without --suspects, and names an unreachable app', async () => {
    const err = capturedOutput();
    expect(await icf(['review', 'tees', '--url', host.url], capturedOutput().stream, err.stream)).toBe(2);
    expect(err.text()).toContain('review needs --suspects');
    const unreachable = capturedOutput();
    expect(
      await icf(
        ['review', 'tees', '--suspects', '--url', 'http://127.0.0.1:9'],
        capturedOutput().stream,
        unreachable.stream,
      ),
    ).toBe(1);
    expect(unreachable.text()).toContain('cannot reach http://127.0.0.1:9');
  });
});

// The batcher's scheduling, on a fake session that records its runs: a lone image runs at once, reserved images
// and the recent load are waited for (never longer than maxWaitInMs), and the shared input buffer gives each run
// its own images.
import type * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { Batcher } from '../../src/serve/batcher';

const SIDE = 2;
const PER = 3 * SIDE * SIDE;

/** A session whose output row i is the sum of input image i; runs take `runMs`, blocking as onnxruntime-node does. */
function fakeSession(runMs = 0) {
  const runs: number[][] = [];
  const session = {
    run: async (feeds: Record<string, ort.Tensor>) => {
      const input = feeds['input']!;
      const data = input.data as Float32Array;
      const n = input.dims[0]!;
      const sums = Array.from({ length: n }, (_, i) =>
        data.subarray(i * PER, (i + 1) * PER).reduce((a, b) => a + b, 0),
      );
      runs.push(sums);
      const end = performance.now() + runMs;
      while (performance.now() < end); // blocks, like the real thing
      return { out: { data: Float32Array.from(sums) } };
    },
  };
  return { session: session as unknown as ort.InferenceSession, runs };
}

const image = (value: number) => new Float32Array(PER).fill(value);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sum = (value: number) => value * PER;

describe('Batcher', () => {
  it('runs a lone image at once, and images that arrive during a run together after it', async () => {
    const { session, runs } = fakeSession(30);
    const batcher = new Batcher(session, 'input', 'out', { maxWaitInMs: 100 });
    let begin = performance.now();
    expect((await batcher.submit(image(1)))[0]).toBe(sum(1));
    expect(performance.now() - begin).toBeLessThan(80);
    await sleep(1100); // the peak of that burst (one image) is forgotten

    begin = performance.now();
    const first = batcher.submit(image(2)); // runs at once, blocking for 30 ms
    const rest = [batcher.submit(image(3)), batcher.submit(image(4))];
    expect((await first)[0]).toBe(sum(2));
    expect((await Promise.all(rest)).map((row) => row[0])).toEqual([sum(3), sum(4)]);
    expect(runs.map((r) => r.length)).toEqual([1, 1, 2]);
    // Three were in flight at once, so the two waited for a third (at most maxWaitInMs) before going without it.
    expect(performance.now() - begin).toBeLessThan(400);
  });

  it('waits for reserved images, and runs without one that is cancelled', async () => {
    const { session, runs } = fakeSession();
    const batcher = new Batcher(session, 'input', 'out', { maxWaitInMs: 5000 });
    const a = batcher.reserve();
    const b = batcher.reserve();
    const c = batcher.reserve();
    const rowA = a.submit(image(1));
    await sleep(20);
    expect(runs).toEqual([]); // b and c are still being decoded
    const rowB = b.submit(image(2));
    c.cancel();
    c.cancel();
    expect((await Promise.all([rowA, rowB])).map((row) => row[0])).toEqual([sum(1), sum(2)]);
    expect(runs.map((r) => r.length)).toEqual([2]);
  });

  it('waits for as many images as were in flight lately, at most maxWaitInMs, then stops expecting them', async () => {
    const { session, runs } = fakeSession();
    const batcher = new Batcher(session, 'input', 'out', { maxWaitInMs: 200 });
    const reservations = [1, 2, 3, 4].map(() => batcher.reserve());
    await Promise.all(reservations.map((r, i) => r.submit(image(i))));
    expect(runs.map((r) => r.length)).toEqual([4]);

    // Two of the four clients come back, at different times: the first waits for company.
    let begin = performance.now();
    const early = batcher.submit(image(5));
    await sleep(15);
    const late = batcher.submit(image(6));
    await sleep(15);
    expect(runs.length).toBe(1);
    // The other two never come: the batch runs once its first image has waited maxWaitInMs.
    await Promise.all([early, late]);
    expect(performance.now() - begin).toBeGreaterThanOrEqual(190);
    expect(runs.map((r) => r.length)).toEqual([4, 2]);

    // The load is now two: an image alone waits once more (for the second), then no longer.
    begin = performance.now();
    await batcher.submit(image(7));
    expect(performance.now() - begin).toBeGreaterThanOrEqual(190);
    begin = performance.now();
    await batcher.submit(image(8));
    expect(performance.now() - begin).toBeLessThan(100);
    expect(runs.map((r) => r.length)).toEqual([4, 2, 1, 1]);
  });

  it('runs a full batch without waiting', async () => {
    const { session, runs } = fakeSession();
    const batcher = new Batcher(session, 'input', 'out', { maxBatch: 3, maxWaitInMs: 5000 });
    const reservations = [1, 2, 3, 4].map(() => batcher.reserve());
    const rows = reservations.slice(0, 3).map((r, i) => r.submit(image(i + 1)));
    expect((await Promise.all(rows)).map((row) => row[0])).toEqual([sum(1), sum(2), sum(3)]);
    reservations[3]!.cancel();
    expect(runs.map((r) => r.length)).toEqual([3]);
  });

  it('keeps the window: a lone image waits windowInMs for company', async () => {
    const { session, runs } = fakeSession();
    const batcher = new Batcher(session, 'input', 'out', { windowInMs: 40 });
    const begin = performance.now();
    const rows = [batcher.submit(image(1))];
    await sleep(10);
    rows.push(batcher.submit(image(2)));
    await Promise.all(rows);
    expect(performance.now() - begin).toBeGreaterThanOrEqual(35);
    expect(runs.map((r) => r.length)).toEqual([2]);
  });

  it('gives every run its own images through the shared input buffer, and fails the whole batch together', async () => {
    const { session, runs } = fakeSession(5);
    const batcher = new Batcher(session, 'input', 'out', { maxBatch: 4, maxWaitInMs: 0 });
    // One runs at once; behind it a run of four fills the buffer, then a run of two reuses part of it.
    const rows = [1, 2, 3, 4, 5, 6, 7].map((v) => batcher.submit(image(v)));
    expect((await Promise.all(rows)).map((row) => row[0])).toEqual([1, 2, 3, 4, 5, 6, 7].map(sum));
    expect(runs.map((r) => r.length)).toEqual([1, 4, 2]);
    // Several files of one request: a buffer of their own.
    expect((await batcher.run([image(8), image(9)])).map((row) => row[0])).toEqual([sum(8), sum(9)]);
    expect(runs.flat()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map(sum));

    const failing = new Batcher(
      { run: () => Promise.reject(new Error('boom')) } as unknown as ort.InferenceSession,
      'input',
      'out',
    );
    const results = await Promise.allSettled([failing.submit(image(1)), failing.submit(image(2))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});

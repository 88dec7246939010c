// The pixel budget: decodes run together only while their pixels fit; first come, first served; an image over
// the whole budget runs alone; a failed decode gives its pixels back.
import { describe, expect, it } from 'vitest';

import { ProgrammingError } from '../../src/errors';
import { PixelBudget } from '../../src/util/pixelBudget';

/** A decode that finishes when the test says so, reporting when it started. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('PixelBudget', () => {
  it('holds back what does not fit, in arrival order, and frees pixels when a decode ends or fails', async () => {
    const budget = new PixelBudget(100);
    const started: string[] = [];
    const gates = { a: gate(), b: gate(), c: gate(), d: gate() };
    const job = (name: keyof typeof gates, pixels: number) =>
      budget.run(pixels, async () => {
        started.push(name);
        await gates[name].opened;
        if (name === 'b') throw new Error('damaged');
        return name;
      });
    const a = job('a', 60);
    const b = job('b', 40);
    const c = job('c', 70); // waits for a
    const d = job('d', 10); // fits, but waits behind c: no overtaking
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a', 'b']);
    expect(budget.available).toBe(0);
    gates.b.open();
    await expect(b).rejects.toThrow('damaged');
    expect(started).toEqual(['a', 'b']); // 40 free, c needs 70
    gates.a.open();
    await a;
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    gates.c.open();
    gates.d.open();
    expect(await Promise.all([c, d])).toEqual(['c', 'd']);
    expect(budget.available).toBe(100);
  });

  it('runs an image larger than the whole budget alone', async () => {
    const budget = new PixelBudget(100);
    let inside = 0;
    let most = 0;
    const work = (pixels: number) =>
      budget.run(pixels, async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((resolve) => setImmediate(resolve));
        inside--;
      });
    await Promise.all([work(1000), work(1000), work(10)]);
    expect(most).toBe(1);
    // The capacity comes from DECODE_PIXEL_BUDGET, which the settings check: a bad one here is the code's bug.
    expect(() => new PixelBudget(0)).toThrow(ProgrammingError);
    expect(() => new PixelBudget(0)).toThrow('a pixel budget must be a positive whole number, got 0');
  });
});

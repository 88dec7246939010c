// The demo's progress bars (and `icf train --wait`'s, from the same MonotoneProgress) for a training job whose
// reported progress dips as the trainer's stages count their own shares: the bar and the figure never move back, the
// ETA comes from the whole job's progress, and the bar names the stage.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { formatTimeLeft, MonotoneProgress, progressBars } from '../../src/demo/progressBars';
import { fakeTerminal } from '../support/fakeTerminal';

/** A job as the demo polls it: seconds since it was asked for, its progress and stage. */
const SNAPSHOTS: readonly [seconds: number, progress: number, stage: string][] = [
  [0, 0, 'queued'],
  [5, 0, 'queued'],
  [10, 0.1, 'features'],
  [20, 0.3, 'features'],
  [30, 0.56, 'search: resize'],
  [40, 0.14, 'search: views'],
  [50, 0.6, 'search: views'],
  [60, 0.37, 'search: strength'],
  [70, 0.8, 'learning-curve'],
  [80, 1, 'done'],
];

describe('MonotoneProgress', () => {
  it('never goes back, and estimates the time left from the time since the job first moved', () => {
    let now = 0;
    const progress = new MonotoneProgress(() => now);
    const shown = SNAPSHOTS.map(([seconds, share]) => {
      now = seconds * 1000;
      return progress.observe(Math.round(share * 100), 100);
    });
    expect(shown.map((view) => view.done)).toEqual([0, 0, 10, 30, 56, 56, 60, 60, 80, 100]);
    // The clock starts at 5 s, the last report at 0 % (queued time is no work): at 10 s 10 % took 5 s, so 90 % left is
    // 45 s; at 40 s, with the report dipped to 14 %, 56 % took 35 s: 35/56·44 = 27.5 s, where the reported 14 % would
    // have said 35/14·86 = 215 s (the "15 s → 2 min 32 s" jump).
    expect(shown.map((view) => view.timeLeft)).toEqual([
      '',
      '',
      'ETA 45s',
      'ETA 35s',
      'ETA 20s',
      'ETA 28s',
      'ETA 30s',
      'ETA 37s',
      'ETA 16s',
      '',
    ]);
  });

  it('ignores reports outside 0..total and starts from wherever the first report is', () => {
    let now = 0;
    const progress = new MonotoneProgress(() => now);
    expect(progress.observe(40, 100)).toEqual({ done: 40, timeLeft: '' });
    now = 10_000;
    // 10 more in 10 s: 50 left at 1 a second.
    expect(progress.observe(50, 100)).toEqual({ done: 50, timeLeft: 'ETA 50s' });
    now = 20_000;
    expect(progress.observe(Number.NaN, 100).done).toBe(50);
    expect(progress.observe(-3, 100).done).toBe(50);
    expect(progress.observe(250, 100)).toEqual({ done: 100, timeLeft: '' });
  });
});

describe('formatTimeLeft', () => {
  it('gives seconds, then minutes in 5-second steps', () => {
    expect(formatTimeLeft(44_600)).toBe('ETA 45s');
    expect(formatTimeLeft(59_400)).toBe('ETA 59s');
    expect(formatTimeLeft(152_000)).toBe('ETA 2m30s');
    expect(formatTimeLeft(3_601_000)).toBe('ETA 60m00s');
    expect(formatTimeLeft(Number.POSITIVE_INFINITY)).toBe('');
  });
});

describe('progressBars', () => {
  beforeEach(() => {
    // cli-progress redraws at most every 200 ms of Date.now: the test moves that clock with its own.
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('draws a training job that dips as a bar that only moves forward, with its stage and ETA', () => {
    let now = 0;
    const terminal = fakeTerminal();
    const progress = progressBars(terminal.stream, { now: () => now });
    vi.setSystemTime(0);
    progress.begin('train', 100, '%');
    for (const [seconds, share, stage] of SNAPSHOTS) {
      now = seconds * 1000;
      vi.setSystemTime(now + 1000);
      // As the demo's pipeline reports a job.
      progress.update(Math.round(share * 100), 100, stage);
    }
    progress.end();
    const frames = terminal.frames().filter((frame) => frame.startsWith('train'));
    const bar = (filled: number) => `[${'█'.repeat(filled)}${'░'.repeat(40 - filled)}]`;
    // The bar's start, then a frame for every report that changes the line (cli-progress redraws only those).
    expect(frames).toEqual([
      `train    ${bar(0)} 0%`,
      `train    ${bar(0)} 0%  queued`,
      `train    ${bar(4)} 10%  features  ETA 45s`,
      `train    ${bar(12)} 30%  features  ETA 35s`,
      `train    ${bar(22)} 56%  search: resize  ETA 20s`,
      `train    ${bar(22)} 56%  search: views  ETA 28s`,
      `train    ${bar(24)} 60%  search: views  ETA 30s`,
      `train    ${bar(24)} 60%  search: strength  ETA 37s`,
      `train    ${bar(32)} 80%  learning-curve  ETA 16s`,
      `train    ${bar(40)} 100%  done`,
    ]);
  });

  it('counts images as done/total, and starts each step afresh', () => {
    let now = 0;
    const terminal = fakeTerminal();
    const progress = progressBars(terminal.stream, { now: () => now });
    vi.setSystemTime(0);
    progress.begin('ingest', 50, 'images');
    for (const [seconds, done] of [
      [1, 10],
      [2, 30],
      [3, 20],
    ] as const) {
      now = seconds * 1000;
      vi.setSystemTime(now);
      progress.update(done, 50, `${done} accepted`);
    }
    progress.end();
    progress.begin('train', 100, '%');
    now = 4000;
    vi.setSystemTime(now);
    progress.update(5, 100, 'loading');
    progress.end();
    const ingest = terminal.frames().filter((frame) => frame.startsWith('ingest'));
    expect(ingest).toContain('ingest   [████████████████████████░░░░░░░░░░░░░░░░] 30/50 images  30 accepted  ETA 1s');
    // The dip to 20 leaves the bar at 30; 20 left at 20 in the 2 s since the first report.
    expect(ingest.at(-1)).toBe('ingest   [████████████████████████░░░░░░░░░░░░░░░░] 30/50 images  20 accepted  ETA 2s');
    // A new step is not held at the last one's figure.
    expect(
      terminal
        .frames()
        .filter((frame) => frame.startsWith('train'))
        .at(-1),
    ).toMatch(/\] 5% {2}loading$/);
  });
});

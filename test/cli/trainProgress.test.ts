// `icf train --wait`'s progress bar, against an app (a stubbed fetch) whose job reports progress that dips as the
// trainer's stages count their own shares: the bar never moves back, names the stage and estimates the time left
// from the whole job, as the demo's bars do (MonotoneProgress).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { trainCommand } from '../../src/cli/train';
import { fakeTerminal } from '../support/fakeTerminal';

/** What GET .../jobs/{jobId} answers, poll by poll: [progress, stage]. */
const POLLS: readonly [progress: number, stage: string][] = [
  [0, 'queued'],
  [0.2, 'features'],
  [0.56, 'search: resize'],
  [0.14, 'search: views'],
  [0.6, 'search: views'],
  [0.37, 'search: strength'],
  [1, 'done'],
];

describe('icf train --wait', () => {
  beforeEach(() => {
    // Date and performance move 10 s a poll, as the test's fetch says; timers stay real (the polls wait 0 ms).
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    vi.setSystemTime(0);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('draws a bar that only moves forward, with the stage and an ETA from the whole job', async () => {
    let poll = 0;
    vi.stubGlobal('fetch', (url: URL, init: { method: string }) => {
      const answer = (body: unknown) =>
        Promise.resolve(new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } }));
      if (init.method === 'POST') return answer({ jobId: 'job-1' });
      expect(url.pathname).toBe('/api/datasets/tees/jobs/job-1');
      vi.advanceTimersByTime(10_000);
      const [progress, stage] = POLLS[Math.min(poll++, POLLS.length - 1)]!;
      return answer({
        dataset: 'tees',
        jobId: 'job-1',
        status: stage === 'done' ? 'succeeded' : 'running',
        stage,
        progress,
        options: {},
        createdAt: '2026-01-01T00:00:00Z',
      });
    });
    const terminal = fakeTerminal();
    const code = await trainCommand(
      ['tees', '--wait', '--poll-interval-ms', '0', '--url', 'http://app.test'],
      terminal.stream,
    );
    expect(code).toBe(0);
    const bar = (filled: number) => `[${'█'.repeat(filled)}${'░'.repeat(40 - filled)}]`;
    // Polls 10 s apart; the clock starts at the last 0 %: 20 % in 10 s leaves 40 s, 56 % in 20 s leaves 15.7 s, and the
    // dip to 14 % at 30 s holds 56 % (30/56·44 = 23.6 s, not the 184 s the reported 14 % would give).
    expect(terminal.frames()).toEqual([
      'job job-1 queued for dataset tees',
      `train ${bar(0)} 0% queued`,
      `train ${bar(8)} 20% features  ETA 40s`,
      `train ${bar(22)} 56% search: resize  ETA 16s`,
      `train ${bar(22)} 56% search: views  ETA 24s`,
      `train ${bar(24)} 60% search: views  ETA 27s`,
      `train ${bar(24)} 60% search: strength  ETA 33s`,
      `train ${bar(40)} 100% done`,
      'job job-1 (dataset tees): succeeded, stage done, 100.0%',
    ]);
  });
});

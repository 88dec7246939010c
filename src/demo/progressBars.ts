// The demo's progress on a terminal: one cli-progress bar per long step, with its ETA, and notes between steps.
// Without a TTY (a CI log) the bars print a line every few seconds instead of redrawing. `icf train --wait` draws its
// bar from the same MonotoneProgress, so both show a training job the same way.
import { Presets, SingleBar } from 'cli-progress';

import type { DemoProgress } from './pipeline';

export interface ProgressBarOptions {
  /** Milliseconds on a monotonic clock; default performance.now (a test passes its own). */
  now?: () => number;
}

/** What to draw for one report of a step's progress. */
export interface ProgressView {
  /** The most done so far in this step: a report that dips below an earlier one does not move the bar back. */
  done: number;
  /** "ETA 1m05s", or '' while there is nothing to estimate from (or nothing left). */
  timeLeft: string;
}

/**
 * One step's progress as shown, from the reports as they come: it only moves forward (the largest `done` so far,
 * whatever a later report says: a trainer's stages may each count their own share), and the time left is the time
 * the step has taken since it first moved, scaled by what is left of the shown progress: elapsed × (total − done) /
 * (done − done at first move). Time spent at the start (a queued job at 0 %) does not count, and since the shown
 * progress never falls, the estimate cannot leap up when a stage restarts its own count.
 */
export class MonotoneProgress {
  private best = 0;
  private movedAt: { time: number; done: number } | undefined;
  private readonly now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
  }

  observe(done: number, total: number): ProgressView {
    const time = this.now();
    const reported = Number.isFinite(done) ? Math.min(Math.max(done, 0), total) : 0;
    // The clock starts at the last report before the progress first moves: a queued job's wait is not its work.
    this.movedAt ??= { time, done: reported };
    if (this.best <= this.movedAt.done && reported <= this.movedAt.done) this.movedAt.time = time;
    this.best = Math.max(this.best, reported);
    const { best, movedAt } = this;
    const gained = best - movedAt.done;
    if (gained <= 0 || best >= total) return { done: best, timeLeft: '' };
    return { done: best, timeLeft: formatTimeLeft(((time - movedAt.time) / gained) * (total - best)) };
  }
}

/** "ETA 45s", "ETA 2m30s" (seconds rounded; from a minute up to 5-second steps so the figure does not flicker). */
export function formatTimeLeft(milliseconds: number): string {
  if (!(milliseconds >= 0) || !Number.isFinite(milliseconds)) return '';
  const seconds = Math.round(milliseconds / 1000);
  if (seconds < 60) return `ETA ${seconds}s`;
  const rounded = Math.round(seconds / 5) * 5;
  return `ETA ${Math.floor(rounded / 60)}m${String(rounded % 60).padStart(2, '0')}s`;
}

export function progressBars(
  stream: NodeJS.WriteStream = process.stdout,
  options: ProgressBarOptions = {},
): DemoProgress {
  let bar: SingleBar | undefined;
  let progress: MonotoneProgress | undefined;
  return {
    begin(step, total, unit) {
      bar?.stop();
      // A share of a whole ("%") reads as one figure; counts as done/total.
      const figure = unit === '%' ? '{value}%' : `{value}/{total} ${unit}`;
      bar = new SingleBar(
        {
          format: `${step.padEnd(8)} [{bar}] ${figure}  {detail}  {timeLeft}`,
          stream,
          noTTYOutput: !stream.isTTY,
          notTTYSchedule: 5000,
          hideCursor: true,
        },
        Presets.shades_classic,
      );
      progress = new MonotoneProgress(options.now);
      bar.start(total, 0, { detail: '', timeLeft: '' });
    },
    update(done, total, detail = '') {
      if (!bar || !progress) return;
      const view = progress.observe(done, total);
      bar.setTotal(total);
      bar.update(view.done, { detail, timeLeft: view.timeLeft });
    },
    end() {
      bar?.stop();
      bar = undefined;
      progress = undefined;
    },
    note(message) {
      stream.write(`${message}\n`);
    },
  };
}
